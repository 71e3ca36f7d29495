"""The broadcast sender: delivers due outbox rows within the channel's limits, and records each
result as it completes, so a crash re-sends at most the messages that were in flight.

How it runs (one `Sender.run`):

- A claimer keeps a queue topped up with due rows, claimed in the outbox under this run's own
  owner id (a fresh random id per run) with a heartbeat it refreshes every second while it holds
  any. At start, and whenever it is idle, it first reclaims the rows of senders that died: their
  heartbeat is older than a few seconds, or absent, or their process on this host is gone.
- A pool of `pool_size(rate)` workers takes rows from the queue and sends them, each at most one
  at a time. A worker hands its result to the recorder and takes no next row until that result
  is committed.
- The recorder collects the results that arrive within a few milliseconds and writes them in
  one transaction (an executemany): group commit, so the database keeps up at 1000/s.
- `BROADCAST_RATE` messages per second across all chats (aiolimiter's leaky bucket); each
  recipient gets one message per broadcast, which keeps every chat far under 1 per second.
- A 429 pauses all sending for its `retry_after`. 5xx and network errors are retried with
  backoff, up to `max_attempts`, then the row fails with the reason kept. 403 marks the learner
  blocked; "chat not found" fails for good. Any other error fails that one send only: it is
  retried like a 5xx and never touches another row.
- Learners' quiet hours (in their local time) defer non-urgent rows to the morning.
- A broadcast photo is uploaded by the first send; the others wait for it and send its id.
  Each channel uploads its own copy once: Telegram's id is kept on the broadcast row
  (`Broadcast.photo_id`), another channel's in `media_files` (by broadcast, path, content).

Channels. One sender runs per channel, each with its channel's deliverer and rate (`channel_rate`:
BROADCAST_RATE for Telegram, WHATSAPP_RATE for WhatsApp), and claims only its own channel's rows.
Every send says why the bot writes first (`Proactive("broadcast", ...)`), so a channel with a
window (WhatsApp) can carry it in a template once the learner's window has closed:
- NotAllowed (no template for the learner's language): the row is `skipped` with the reason,
  never tried again; the other rows go on.
- OverQuota (the number's messaging tier is used up): the row waits until the quota frees
  (`next_attempt_at`), with the reason; its attempts are not used up.

The crash window. A row is sent but not yet recorded only between its worker's send and the
commit of its result, and each worker holds one such row at most, so a SIGKILL at any instant
leaves at most `pool_size(rate)` messages that a restart sends again. Rows claimed but not yet
sent are sent once, after the restart. The pool is one worker per 50 messages/s (a worker's
send-and-commit cycle takes about 10 ms on loopback, so each can do about twice its share),
from 1 to 100:

    BROADCAST_RATE   25 or 30   100   1000   unthrottled
    workers                 1     2     20           100
    duplicates at most      1     2     20           100

At BROADCAST_RATE=100, a SIGKILL duplicates at most 2 messages in total (tests/test_broadcast.py
kills a real `broadcast send` and counts them). A learner can get a duplicate only if their own
message was among those in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiolimiter import AsyncLimiter

from bot.broadcast.hours import QuietHours
from bot.broadcast.message import BroadcastFile, CheckedPhotos, changed_photo
from bot.broadcast.outbox import (
    PHOTO_ON_BROADCAST,
    RUNNING,
    STALE,
    Claimed,
    Outbox,
    Result,
    Uploaded,
)
from bot.channels.capabilities import capabilities
from bot.channels.delivery import (
    Delivered,
    Deliverer,
    DeliveryError,
    NotAllowed,
    OverQuota,
    Proactive,
    Rejected,
    RetryLater,
    Transient,
    Unreachable,
)
from bot.channels.plain import PLAIN, flatten
from bot.config import Settings
from bot.content.library import Library
from bot.content.text import render
from bot.engine.tokens import lesson_token
from bot.store.models import QUOTA_WAIT

log = logging.getLogger(__name__)

PER_WORKER = 50.0  # messages/s one worker is asked to carry: half of what it can
# The admin desk is in Telegram, so a broadcast's `notify_chat` is a Telegram chat: only the
# Telegram sender ends such a broadcast, and sends the admin its summary.
ADMINS_ON = "telegram"


def channel_rate(settings: Settings, channel: str) -> float:
    """Broadcast messages per second on `channel`: BROADCAST_RATE on Telegram, WHATSAPP_RATE on
    WhatsApp, and the platform's documented rate on any other."""
    rates = {"telegram": settings.broadcast_rate, "whatsapp": settings.whatsapp_rate}
    return rates.get(channel, capabilities(channel).rate)


def pool_size(rate: float) -> int:
    """How many sends may be in flight at `rate` messages/s: the crash window."""
    return max(1, min(100, math.ceil(rate / PER_WORKER)))


@dataclass
class Tally:
    """What one `run` did, for progress bars and summaries."""

    sent: int = 0
    failed: int = 0
    blocked: int = 0
    deferred: int = 0  # quiet hours: till the morning
    skipped: int = 0  # the channel's rules allow no message now (NotAllowed)
    waiting: int = 0  # for the channel's quota (OverQuota)...
    waiting_until: datetime | None = None  # ...the last of them until then

    @property
    def done(self) -> int:
        """Rows this run is through with: sent, or not to be sent by it."""
        return self.sent + self.failed + self.blocked + self.skipped + self.waiting


@dataclass
class _Photo:
    """A broadcast's photo: its id once uploaded, and who is uploading it."""

    id: str | None
    digest: str | None = None  # the file's content, where the channel's id is kept by it
    uploading: asyncio.Lock = field(default_factory=asyncio.Lock)
    settled: bool = False  # a send has gone through: wait no more (a channel may have no ids)

    def __post_init__(self) -> None:
        self.settled = self.id is not None


@dataclass
class Sender:
    outbox: Outbox
    deliverer: Deliverer
    library: Library
    rate: float = 25.0
    quiet: QuietHours = field(default_factory=QuietHours)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    max_attempts: int = 5
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    backoff_cap: float = 300.0
    workers: int = 0  # sends in flight at most; 0: pool_size(rate)
    record_window: float = 0.005  # seconds the recorder collects results for one commit
    beat_every: float = 1.0  # seconds between heartbeats while rows are held
    stale: timedelta = STALE  # another sender silent this long is dead
    summarize: Callable[[int, str], object] | None = None  # (broadcast id, admin chat)

    def __post_init__(self) -> None:
        if self.deliverer.channel != self.outbox.channel:
            raise ValueError(
                f"a {self.deliverer.channel} deliverer needs Outbox(engine, "
                f"{self.deliverer.channel!r}), not the {self.outbox.channel} outbox"
            )
        self.notifies = self.deliverer.channel == ADMINS_ON
        # A tenth of a second's worth per bucket: a burst at start can't overshoot the rate.
        self._limiter = AsyncLimiter(max(self.rate / 10, 1.0), 0.1)
        self._paused_until = 0.0  # time.monotonic() when a 429's pause ends
        self._messages: dict[int, BroadcastFile] = {}
        self._photos: dict[int, _Photo] = {}
        self._plain: dict[tuple[int, str], str] = {}  # (broadcast, locale): its text, plain
        self._loading = asyncio.Lock()
        self.on_wire = 0  # sends started and not yet answered
        self.pool = self.workers or pool_size(self.rate)
        # Rows held at once (queued and in flight): enough for a tenth of a second, so claims
        # are batches, and never fewer than two per worker.
        self.capacity = max(2 * self.pool, min(500, math.ceil(self.rate / 10)))
        self.tally = Tally()

    async def run(
        self,
        broadcast_id: int | None = None,
        *,
        until_done: bool = True,
        on_progress: Callable[[Tally], None] | None = None,
    ) -> Tally:
        """Send until nothing is due (or forever, for the worker)."""
        await _Run(self, broadcast_id, on_progress).go(until_done)
        return self.tally

    # -- one row ---------------------------------------------------------------------------

    async def send_one(self, row: Claimed) -> Result:
        """Send one claimed row; whatever goes wrong is this row's result, never an error."""
        try:
            return await self._send(row)
        except DeliveryError as exc:  # a kind the channel didn't say more about
            return self._retry_or_fail(row, str(exc))
        except Exception as exc:  # a bug or a library's surprise: this row alone is retried
            log.exception("broadcast row %s: sending failed unexpectedly", row.row_id)
            return self._retry_or_fail(row, f"{type(exc).__name__}: {exc}")

    async def _send(self, row: Claimed) -> Result:
        message = await self._message(row.broadcast_id)
        now = self.clock()
        if not message.urgent and self.quiet.contains(now, row.country):
            self.tally.deferred += 1
            return Result(
                row.row_id,
                "pending",
                row.attempts,
                next_attempt_at=self.quiet.over_at(now, row.country),
            )
        try:
            delivered, uploaded = await self._deliver(message, row)
        except RetryLater as exc:
            self._paused_until = max(self._paused_until, time.monotonic() + exc.seconds)
            return Result(
                row.row_id,
                "pending",
                row.attempts,
                next_attempt_at=self.clock() + timedelta(seconds=exc.seconds),
                error=str(exc),
            )
        except Transient as exc:
            return self._retry_or_fail(row, str(exc))
        except Unreachable as exc:
            reason = str(exc)
            if "chat not found" in reason.lower():
                self.tally.failed += 1
                return Result(row.row_id, "failed", row.attempts + 1, error=reason)
            self.tally.blocked += 1
            return Result(
                row.row_id,
                "blocked",
                row.attempts + 1,
                error=reason,
                learner_blocked=row.external_id,
            )
        except Rejected as exc:
            self.tally.failed += 1
            return Result(row.row_id, "failed", row.attempts + 1, error=str(exc))
        except NotAllowed as exc:
            # The channel's rules, not a fault: asking again would get the same answer.
            self.tally.skipped += 1
            return Result(row.row_id, "skipped", row.attempts, error=str(exc))
        except OverQuota as exc:
            until = exc.until if exc.until.tzinfo else exc.until.replace(tzinfo=UTC)
            self.tally.waiting += 1
            if self.tally.waiting_until is None or until > self.tally.waiting_until:
                self.tally.waiting_until = until
            # Not attempted: the row keeps its attempts and goes when the quota frees.
            return Result(
                row.row_id,
                "pending",
                row.attempts,
                next_attempt_at=until,
                error=f"{QUOTA_WAIT}{exc}",
            )
        self.tally.sent += 1
        photo = None
        if uploaded and delivered.photo_id and message.media:
            digest = self._photos[row.broadcast_id].digest
            photo = Uploaded(row.broadcast_id, delivered.photo_id, message.media, digest)
        return Result(
            row.row_id, "sent", row.attempts + 1, message_id=delivered.message_id, photo=photo
        )

    async def _deliver(self, message: BroadcastFile, row: Claimed) -> tuple[Delivered, bool]:
        """Send; say whether this send uploaded the broadcast's photo."""
        if not message.media:
            return await self._post(message, row, None, None), False
        path = Path(message.media)
        photo = self._photos[row.broadcast_id]
        if not photo.settled:
            # The first send uploads; the others queue here and then send the id it got. If
            # that send fails, the next one in line uploads instead. On a channel with a window
            # a send may go without the photo (a template, outside it): then the next one in
            # line uploads too, until one brings back an id.
            async with photo.uploading:
                if not photo.settled:
                    delivered = await self._post(message, row, path, None)
                    if delivered.photo_id is not None or self._photo_always_goes():
                        photo.id, photo.settled = delivered.photo_id, True
                    return delivered, delivered.photo_id is not None
        return await self._post(message, row, path, photo.id), False

    def _photo_always_goes(self) -> bool:
        """Whether every send that goes through carries the photo: on a channel without a
        window it does, so one without photo ids (none came back) need not be waited for."""
        caps = getattr(self.deliverer, "capabilities", None)
        return caps is None or caps.window is None

    async def _post(
        self, message: BroadcastFile, row: Claimed, photo: Path | None, photo_id: str | None
    ) -> Delivered:
        await self._wait_out_pause()
        async with self._limiter:
            await self._wait_out_pause()  # a 429 may have come while we queued for the limiter
            self.on_wire += 1
            try:
                return await self.deliverer.send(
                    row.external_id,
                    self._text(message, row),
                    self._keyboard(message, row),
                    photo,
                    photo_id,
                    proactive=self._proactive(message, row),
                )
            finally:
                # Nothing awaits between here and the result reaching the recorder, so a run
                # that stops waits for on_wire == 0 and an empty recorder (see _Run.drain).
                self.on_wire -= 1

    def _retry_or_fail(self, row: Claimed, reason: str) -> Result:
        attempts = row.attempts + 1
        if attempts >= self.max_attempts:
            self.tally.failed += 1
            return Result(
                row.row_id, "failed", attempts, error=f"gave up after {attempts} tries: {reason}"
            )
        delay = min(self.backoff * 2.0 ** (attempts - 1), self.backoff_cap)
        return Result(
            row.row_id,
            "pending",
            attempts,
            error=reason,
            next_attempt_at=self.clock() + timedelta(seconds=delay),
        )

    async def _wait_out_pause(self) -> None:
        while (left := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(left)

    async def _message(self, broadcast_id: int) -> BroadcastFile:
        if broadcast_id not in self._messages:
            async with self._loading:  # the workers start together: one of them reads it
                if broadcast_id not in self._messages:
                    found = await self.outbox.get(broadcast_id)
                    assert found is not None
                    message = BroadcastFile.model_validate(found.message)
                    self._photos[broadcast_id] = await self._known_photo(
                        broadcast_id, found.photo_id, message
                    )
                    self._messages[broadcast_id] = message
        return self._messages[broadcast_id]

    async def _known_photo(
        self, broadcast_id: int, stored: str | None, message: BroadcastFile
    ) -> _Photo:
        """This channel's id for the broadcast's photo, if it took it already (a resumed run)."""
        if not message.media:
            return _Photo(None)
        if self.outbox.channel == PHOTO_ON_BROADCAST:
            return _Photo(stored)
        digest = await asyncio.to_thread(_digest, Path(message.media))
        known = await self.outbox.photo_id(broadcast_id, message.media, digest) if digest else None
        return _Photo(known, digest)

    @staticmethod
    def _text(message: BroadcastFile, row: Claimed) -> str:
        return render(message.text_for(row.locale), {"first_name": row.first_name}).strip()

    def _proactive(self, message: BroadcastFile, row: Claimed) -> Proactive:
        """Why the bot writes first, and what fills a template: the text without its HTML
        (made plain once per broadcast and locale; only the name differs from row to row)."""
        key = (row.broadcast_id, row.locale)
        plain = self._plain.get(key)
        if plain is None:
            plain = self._plain[key] = flatten(message.text_for(row.locale), PLAIN)
        text = render(plain, {"first_name": row.first_name}, escape=False).strip()
        return Proactive("broadcast", {"text": text, "name": row.first_name or ""})

    def _keyboard(self, message: BroadcastFile, row: Claimed) -> list[list[tuple[str, str]]]:
        rows = []
        for button in message.buttons:
            label = message.label_for(button, row.locale)
            if button.url:
                rows.append([(label, button.url)])
                continue
            course, _, lesson_id = (button.lesson or "").partition("/")
            lesson = self.library.lesson(course, lesson_id)
            if lesson is not None:
                rows.append([(label, lesson_token(lesson))])
        return rows


class _Run:
    """One `Sender.run`: its owner id, its queue, its workers, its recorder and heartbeat."""

    def __init__(
        self,
        sender: Sender,
        broadcast_id: int | None,
        on_progress: Callable[[Tally], None] | None,
    ) -> None:
        self.sender = sender
        self.outbox = sender.outbox
        self.broadcast_id = broadcast_id
        self.on_progress = on_progress
        self.owner = secrets.token_hex(8)
        self.queue: asyncio.Queue[Claimed] = asyncio.Queue()
        self.held = 0  # claimed and not yet recorded: queued, in flight, or being committed
        self.recorded = asyncio.Event()  # some results were committed
        self.results: list[tuple[Result, asyncio.Future[None]]] = []
        self.arrived = asyncio.Event()  # results wait for the recorder
        self.committing = False
        self.beaten = 0.0  # time.monotonic() of our last heartbeat
        self.shown = 0.0  # of our last progress report

    async def go(self, until_done: bool) -> None:
        RUNNING.add(self.owner)
        helpers = [asyncio.create_task(self.work()) for _ in range(self.sender.pool)]
        recorder = asyncio.create_task(self.record_loop())
        helpers += [recorder, asyncio.create_task(self.beat_loop())]
        claimer = asyncio.create_task(self.claim_loop(until_done))
        try:
            # The helpers run forever; one that ends has failed, and so has the run.
            await asyncio.wait([claimer, *helpers], return_when=asyncio.FIRST_COMPLETED)
            for task in helpers:
                if task.done():
                    task.result()
            claimer.result()
        finally:
            claimer.cancel()
            unsent = [self.queue.get_nowait().row_id for _ in range(self.queue.qsize())]
            try:
                if not recorder.done():  # stopped (SIGTERM, a deploy): finish what is on the wire
                    await self.drain()
            finally:
                for task in [claimer, *helpers]:
                    task.cancel()
                await asyncio.gather(claimer, *helpers, return_exceptions=True)
                await self.leave(unsent)
                RUNNING.discard(self.owner)
                if self.on_progress:
                    self.on_progress(self.sender.tally)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until no send is on the wire and every result is committed, so a run that is
        stopped leaves nothing to send twice. Sends still waiting for the limiter or a 429's
        pause have sent nothing: they are cancelled and their rows taken over."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.sender.on_wire or self.results or self.committing:
                    await asyncio.sleep(0.005)

    async def claim_loop(self, until_done: bool) -> None:
        sender, outbox = self.sender, self.outbox
        await outbox.reclaim(self.broadcast_id, sender.stale)  # the rows of senders that died
        busy = False  # True: the last claim found rows, so claim again without looking first
        while True:
            room = sender.capacity - self.held
            if room < max(1, sender.capacity // 2):
                await self.until_recorded(1.0)
                continue
            now = sender.clock()
            if busy:
                claimed = await outbox.claim(now, room, self.owner, self.broadcast_id)
                self.beaten = time.monotonic()
                if claimed:
                    self.held += len(claimed)
                    for row in claimed:
                        self.queue.put_nowait(row)
                    continue
                busy = False
                await asyncio.sleep(0.02)  # seen due but taken by another sender meanwhile
            # Idle: read what there is to do before writing anything.
            peek = await outbox.peek(self.broadcast_id, sender.stale)
            if peek.reclaimable:
                await outbox.reclaim(self.broadcast_id, sender.stale)
            if peek.reclaimable or (peek.next_due is not None and peek.next_due <= now):
                busy = True
                continue
            if self.held:
                await self.until_recorded(0.25, drained=True)
                continue
            # A broadcast with an admin to tell is the Telegram sender's to end (it tells them).
            ending = [b for b in peek.finished if sender.notifies or b not in peek.notify]
            for done in await outbox.finish_done(now, ending, notifying=sender.notifies):
                if done.notify_chat and sender.summarize:
                    await _maybe_await(sender.summarize(done.id, done.notify_chat))
            if until_done and peek.next_due is None and not peek.elsewhere:
                return
            wait = 1.0 if peek.next_due is None else (peek.next_due - now).total_seconds()
            if until_done and wait > 5 and not peek.elsewhere:
                return  # scheduled for later: the worker will send it
            await asyncio.sleep(min(max(wait, 0.05), 1.0))

    async def until_recorded(self, timeout: float, *, drained: bool = False) -> None:
        """Wait until some results are committed (with `drained`, all), or `timeout`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while True:
                    self.recorded.clear()
                    await self.recorded.wait()
                    if not drained or not self.held:
                        return

    async def work(self) -> None:
        while True:
            row = await self.queue.get()
            result = await self.sender.send_one(row)
            await self.record(result)  # our next row waits until this one is committed
            self.held -= 1
            self.recorded.set()

    async def record(self, result: Result) -> None:
        done = asyncio.get_running_loop().create_future()
        self.results.append((result, done))
        self.arrived.set()
        await done

    async def record_loop(self) -> None:
        # With one worker there is nothing to collect: commit at once.
        window = self.sender.record_window if self.sender.pool > 1 else 0.0
        while True:
            await self.arrived.wait()
            if window:
                await asyncio.sleep(window)
            self.arrived.clear()
            batch, self.results = self.results, []
            self.committing = True
            try:
                await self.commit([result for result, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                raise
            finally:
                self.committing = False
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
            if self.on_progress and time.monotonic() - self.shown > 0.1:
                self.shown = time.monotonic()
                self.on_progress(self.sender.tally)

    async def commit(self, results: list[Result]) -> None:
        """Record, retrying a failing database for about a minute: these messages went out,
        and giving up would send them again."""
        delay = 0.1
        for attempt in range(10):
            # The heartbeat rides along when it is due: one transaction fewer.
            beat = time.monotonic() - self.beaten >= self.sender.beat_every / 2
            try:
                await self.outbox.record(results, self.sender.clock(), self.owner, beat=beat)
                if beat:
                    self.beaten = time.monotonic()
                return
            except Exception:
                if attempt == 9:
                    raise
                log.warning("could not record %d broadcast results; retrying", len(results))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def beat_loop(self) -> None:
        every = self.sender.beat_every
        while True:
            await asyncio.sleep(every / 4)
            if self.held and time.monotonic() - self.beaten >= every:
                try:
                    await self.outbox.beat(self.owner)
                    self.beaten = time.monotonic()
                except Exception:
                    log.warning("broadcast sender heartbeat failed", exc_info=True)

    async def leave(self, unsent: list[int]) -> None:
        try:
            await self.outbox.leave(self.owner, unsent)
        except Exception:  # its rows are taken over once the heartbeat is stale
            log.warning("broadcast sender %s could not sign off", self.owner, exc_info=True)


async def _maybe_await(value: object) -> None:
    if asyncio.iscoroutine(value):
        await value


def _digest(photo: Path) -> str | None:
    """The photo's content as sha256, or None if it is not the file that was checked (the
    upload then refuses it, see CheckedPhotos) or can't be read."""
    if changed_photo(photo) is not None:
        return None
    try:
        return hashlib.sha256(photo.read_bytes()).hexdigest()
    except OSError:
        return None


def _tallied(counts: dict[str, int]) -> str:
    return (
        f"Sent: {counts.get('sent', 0)} · failed: {counts.get('failed', 0)} · "
        f"blocked: {counts.get('blocked', 0)} · skipped: {counts.get('skipped', 0)}"
    )


def summary_text(
    name: str,
    counts: dict[str, int],
    reasons: dict[str, int],
    channels: dict[str, dict[str, int]] | None = None,
) -> str:
    """The admin's end-of-broadcast message; with `channels` (counts by channel) on more than
    one, a line for each."""
    lines = [f"📣 <b>{html.escape(name)}</b> is done.", _tallied(counts)]
    if channels and len(channels) > 1:
        lines += [f"{html.escape(channel)}: {_tallied(c)}" for channel, c in channels.items()]
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1])[:5]:
        lines.append(f"• {html.escape(reason)}: {count}")
    return "\n".join(lines)


def admin_summaries(outbox: Outbox, deliverer: Deliverer) -> Callable[[int, str], object]:
    """What `Sender.summarize` should do: tell the admin who started it how it went."""

    async def summarize(broadcast_id: int, chat: str) -> None:
        found = await outbox.get(broadcast_id)
        text = summary_text(
            found.name if found else str(broadcast_id),
            await outbox.counts(broadcast_id),
            await outbox.failure_reasons(broadcast_id),
            await outbox.counts_by_channel(broadcast_id),
        )
        try:
            await deliverer.send(chat, text, [], None)
        except DeliveryError as exc:
            log.warning(
                "could not send the summary of broadcast %s to %s: %s", broadcast_id, chat, exc
            )

    return summarize


def configured_sender(
    settings: Settings, outbox: Outbox, deliverer: Deliverer, library: Library
) -> Sender:
    """The sender of the deliverer's channel at its rate (`channel_rate`), in QUIET_HOURS,
    telling admins when a broadcast ends (the Telegram one: the admin desk is there).

    Its photos are checked again right before each upload (`CheckedPhotos`): a broadcast sent
    long after it was queued must not upload whatever a link now put in the photo's place.
    """
    return Sender(
        outbox,
        CheckedPhotos(deliverer),
        library,
        rate=channel_rate(settings, deliverer.channel),
        quiet=QuietHours.parse(settings.quiet_hours),
        summarize=admin_summaries(outbox, deliverer),
    )
