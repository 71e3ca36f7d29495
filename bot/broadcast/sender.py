"""The broadcast sender: claims due outbox rows and delivers them within Telegram's limits.

- `BROADCAST_RATE` messages per second across all chats (aiolimiter's leaky bucket); each
  recipient gets one message per broadcast, which keeps every chat far under 1 per second.
- A 429 pauses all sending for its `retry_after`.
- 5xx and network errors are retried with backoff, up to `max_attempts`, then the row fails
  with the reason kept. 403 marks the learner blocked; "chat not found" fails for good.
- Learners' quiet hours (in their local time) defer non-urgent rows to the morning.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiolimiter import AsyncLimiter

from bot.broadcast.hours import QuietHours
from bot.broadcast.message import BroadcastFile
from bot.broadcast.outbox import Claimed, Outbox, Result
from bot.channels.delivery import (
    Deliverer,
    DeliveryError,
    Rejected,
    RetryLater,
    Transient,
    Unreachable,
)
from bot.config import Settings
from bot.content.library import Library
from bot.content.text import render
from bot.engine.tokens import lesson_token

log = logging.getLogger(__name__)


@dataclass
class Tally:
    """What one `run` did, for progress bars and summaries."""

    sent: int = 0
    failed: int = 0
    blocked: int = 0
    deferred: int = 0


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
    lease: timedelta = timedelta(minutes=2)
    summarize: Callable[[int, str], object] | None = None  # (broadcast id, admin chat)

    def __post_init__(self) -> None:
        # A tenth of a second's worth per bucket: a burst at start can't overshoot the rate.
        self._limiter = AsyncLimiter(max(self.rate / 10, 1.0), 0.1)
        self._paused_until = datetime.min.replace(tzinfo=UTC)
        self._messages: dict[int, BroadcastFile] = {}
        self.tally = Tally()

    async def run(
        self,
        broadcast_id: int | None = None,
        *,
        until_done: bool = True,
        on_progress: Callable[[Tally], None] | None = None,
    ) -> Tally:
        """Send until nothing is due (or forever, for the worker)."""
        batch = max(1, min(int(self.rate), 500))
        recording: asyncio.Task[None] | None = None
        while True:
            now = self.clock()
            claimed = await self.outbox.claim(now, batch, self.lease, broadcast_id)
            if claimed:
                results = await asyncio.gather(*(self._send(row) for row in claimed))
                if recording is not None:
                    await recording
                # Store this batch while the next one goes out; its rows stay `sending`, so
                # no other claim can take them meanwhile.
                recording = asyncio.create_task(self.outbox.record(results, self.clock()))
                if on_progress:
                    on_progress(self.tally)
                continue
            if recording is not None:
                await recording
                recording = None
            for done in await self.outbox.finish_done(self.clock()):
                if done.notify_chat and self.summarize:
                    await _maybe_await(self.summarize(done.id, done.notify_chat))
            upcoming = await self.outbox.next_due(broadcast_id)
            if upcoming is None and until_done:
                return self.tally
            wait = 1.0 if upcoming is None else (upcoming - self.clock()).total_seconds()
            if until_done and wait > 5:
                return self.tally  # scheduled for later: the worker will send it
            await asyncio.sleep(min(max(wait, 0.05), 1.0))

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
        await self._wait_out_pause()
        async with self._limiter:
            try:
                message_id = await self.deliverer.send(
                    row.external_id,
                    self._text(message, row),
                    self._keyboard(message, row),
                    Path(message.media) if message.media else None,
                )
            except RetryLater as exc:
                self._paused_until = max(
                    self._paused_until, self.clock() + timedelta(seconds=exc.seconds)
                )
                return Result(
                    row.row_id,
                    "pending",
                    row.attempts,
                    next_attempt_at=self._paused_until,
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
        self.tally.sent += 1
        return Result(row.row_id, "sent", row.attempts + 1, message_id=message_id)

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
        while (left := (self._paused_until - self.clock()).total_seconds()) > 0:
            await asyncio.sleep(left)

    async def _message(self, broadcast_id: int) -> BroadcastFile:
        if broadcast_id not in self._messages:
            found = await self.outbox.get(broadcast_id)
            assert found is not None
            self._messages[broadcast_id] = BroadcastFile.model_validate(found.message)
        return self._messages[broadcast_id]

    @staticmethod
    def _text(message: BroadcastFile, row: Claimed) -> str:
        return render(message.text_for(row.locale), {"first_name": row.first_name}).strip()

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


async def _maybe_await(value: object) -> None:
    if asyncio.iscoroutine(value):
        await value


def summary_text(name: str, counts: dict[str, int], reasons: dict[str, int]) -> str:
    """The admin's end-of-broadcast message."""
    lines = [
        f"📣 <b>{html.escape(name)}</b> is done.",
        f"Sent: {counts.get('sent', 0)} · failed: {counts.get('failed', 0)} · "
        f"blocked: {counts.get('blocked', 0)} · skipped: {counts.get('skipped', 0)}",
    ]
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
    """The sender as BROADCAST_RATE and QUIET_HOURS say, telling admins when a broadcast ends."""
    return Sender(
        outbox,
        deliverer,
        library,
        rate=settings.broadcast_rate,
        quiet=QuietHours.parse(settings.quiet_hours),
        summarize=admin_summaries(outbox, deliverer),
    )
