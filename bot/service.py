"""Where a channel's event meets the engine and the store: one learner, one transaction.

An update's replies are stored in the transaction that saves the progress they report, and
sent after it commits, from the reply outbox (`bot.store.replies`). So a learner never hears of
progress that was not saved, and a crash between the commit and the send delays a reply, never
loses it. Everything that can go wrong in here is logged with its context and turned into a
short, true apology in the learner's language, so a learner never sees a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Connection

from bot.channels.delivery import (
    NotAllowed,
    OverQuota,
    PartlySent,
    Rejected,
    RetryLater,
    Transient,
    Unreachable,
)
from bot.content import Library
from bot.engine import Context, Event, Say, Text, Texts, advance
from bot.engine.context import N_
from bot.engine.outputs import Action
from bot.engine.runtime import resume_point
from bot.errors import StoreError
from bot.i18n import negotiate
from bot.i18n.zawgyi import to_unicode
from bot.journey.actions import carry_out, certificate_message
from bot.store import Identity, LearnerStore
from bot.store.inbox import current_receipt, report_done
from bot.store.learners import open_learner
from bot.store.personal import describe
from bot.store.replies import Pending, Recipient, Replies, Staged

log = logging.getLogger(__name__)

# Sends a learner's replies, in order, to their address on a channel; raises the
# `bot.channels.delivery` errors, as PartlySent when only the first few went out. A batch lets
# a channel carry one turn's replies in one call (LINE's single-use reply token).
Send = Callable[[str, Sequence[Say]], Awaitable[None]]
SendOne = Callable[[str, Say], Awaitable[None]]


def one_at_a_time(send_one: SendOne) -> Send:
    """A `Send` for a channel that sends each message by itself."""

    async def send(address: str, messages: Sequence[Say]) -> None:
        for sent, message in enumerate(messages):
            try:
                await send_one(address, message)
            except Exception as exc:
                if sent:
                    raise PartlySent(sent, exc) from exc
                raise

    return send


# A bug, or a database failure nobody will retry: the transaction was rolled back.
NOT_SAVED = N_(
    "Sorry, something went wrong on our side, and your last message was not saved. "
    "Please send it again, or send /continue to go on."
)
# The database failed, and the inbox keeps the update to try again.
WILL_RETRY = N_(
    "Sorry, I can't save your progress just now. I have your message and will answer it as "
    "soon as I can."
)
# A reply that fails this often with 5xx or network errors is given up, and logged.
MAX_SEND_ATTEMPTS = 8
RETRY_BACKOFF = timedelta(seconds=1)
RETRY_BACKOFF_CAP = timedelta(minutes=5)


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@dataclass
class LessonService:
    library: Library
    store: LearnerStore
    texts: Texts
    languages: dict[str, str]
    default_locale: str = "en"
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # How learners reach the bot on its channel (`@name` on Telegram), once the channel knows;
    # certificates print it so anyone can find where to /verify them.
    bot_handle: str = ""

    # How each channel sends one message; a channel without one (the console, unit tests)
    # gets its replies back from `handle` instead of through the outbox.
    senders: dict[str, Send] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._locks = KeyedLocks()
        self.replies = Replies(self.store.engine)

    async def handle(
        self, who: Identity, event: Event, *, update_key: str | None = None
    ) -> list[Say]:
        """Run `event` for `who`; return the messages delivered (or, with no sender, to deliver).

        Updates of one learner are handled strictly one after another (in this process by a
        lock, across processes by the database transaction), so quick double presses can't
        lose or double progress; their replies go out in order, under the same lock. An update
        whose `update_key` was handled before is skipped.
        """
        async with self._locks.hold(f"{who.channel}:{who.external_id}"):
            send = self.senders.get(who.channel)
            replies, stored = await self._run(who, event, update_key, stage=send is not None)
            if send is None:
                return [await self._draw(message) for message in replies]
            if stored is False:  # an apology: nothing was saved, so nothing is in the outbox
                for message in replies:
                    await self._send_directly(who, send, await self._draw(message))
                return [message for message in replies if isinstance(message, Say)]
            return await self._flush(who, send, stored if isinstance(stored, list) else [])

    async def flush(self, channel: str, address: str) -> list[Say]:
        """Send what the outbox holds for one learner (after a crash, or a 429's pause)."""
        send = self.senders.get(channel)
        if send is None:
            return []
        who = Identity(channel, address)
        async with self._locks.hold(f"{channel}:{address}"):
            return await self._flush(who, send)

    async def _run(
        self, who: Identity, event: Event, update_key: str | None, *, stage: bool
    ) -> tuple[list[Staged], list[Pending] | bool]:
        """The replies, and what was stored: the outbox rows; True if nothing was staged (no
        sender); False for an apology (nothing was saved)."""
        receipt = current_receipt.get()
        now = self.clock()
        ctx = Context(
            now=now, texts=self.texts, languages=self.languages, country_hint=who.country_hint
        )
        if isinstance(event, Text):
            event = Text(to_unicode(event.text))  # Burmese typed in Zawgyi
        seen = {"locale": self.locale_for(who.language)}  # the learner's, once their row is read

        def job(conn: Connection) -> tuple[list[Staged], list[Pending] | bool]:
            # Runs in the store's writer (a thread, on SQLite): no awaiting, no event loop.
            record = open_learner(conn, who, now, seen["locale"], update_key)
            if record.duplicate:
                log.info("update %s was handled before; skipped", update_key)
                return [], []
            state = record.state
            seen["locale"] = state.locale
            new_state, outputs = advance(self.library, state, event, ctx)
            record.save(new_state, outputs, now, resume_point(self.library, new_state))
            replies: list[Staged] = [
                out
                if isinstance(out, Say)
                else carry_out(out, record, self.library, self.texts, new_state.locale, now)
                for out in outputs
                if isinstance(out, Say | Action)
            ]
            return replies, (record.stage(replies, now) if stage else True)

        try:
            outcome = await self.store.transact(job)
        except StoreError:
            log.exception(
                "could not save %s for %s:%s", describe(event), who.channel, who.external_id
            )
            locale = seen["locale"]
            if receipt is not None and receipt.key == update_key:
                receipt.retry = True  # the inbox keeps it; tell the learner only the first time
                return ([] if receipt.attempt else [Say(self.texts.ui(locale, WILL_RETRY))]), False
            return [Say(self.texts.ui(locale, NOT_SAVED))], False
        except Exception:
            log.exception(
                "failed to handle %s for %s:%s", describe(event), who.channel, who.external_id
            )
            return [Say(self.texts.ui(seen["locale"], NOT_SAVED))], False
        report_done(update_key)
        return outcome

    async def _flush(
        self, who: Identity, send: Send, fresh: list[Pending] | None = None
    ) -> list[Say]:
        """Send this learner's stored replies oldest first; each is deleted once delivered.

        `fresh`: the replies just stored; sent as they are unless older ones still wait, in
        which case all are read back in order (saves a read on every update).
        """
        delivered: list[Say] = []
        now = self.clock()
        channel, address = who.channel, who.external_id
        if fresh is None or self.replies.waiting(channel, address):
            waiting = await self.replies.pending(channel, address)
        else:
            waiting = fresh
        waiting = [reply for reply in waiting if not reply.elsewhere(now)]
        caught_up = True
        while waiting:
            batch, messages = await self._ready(waiting, now, (channel, address))
            if not batch:
                if waiting and not waiting[0].sendable(now):
                    caught_up = False  # paused (429) or backing off: later ones wait, in order
                    break
                waiting = waiting[1:]  # could not be made: dropped (logged)
                continue
            await self.replies.recorded((channel, address))
            try:
                await send(address, messages)
                sent, error = len(batch), None
            except PartlySent as exc:
                sent, error = exc.sent, exc.cause
            except Exception as exc:
                sent, error = 0, exc
            for reply, message in zip(batch[:sent], messages, strict=False):
                delivered.append(message)
                self.replies.delivered(reply.id, (channel, address))
            waiting = waiting[sent:]
            if error is None:
                continue
            outcome = await self._failed(who, waiting[0], error, now)
            if outcome == "wait":
                caught_up = False
                break
            if outcome == "gone":
                break
            self.replies.delivered(waiting[0].id, (channel, address))  # dropped
            waiting = waiting[1:]
        self.replies.caught_up(channel, address, caught_up)
        return delivered

    async def _ready(
        self, waiting: list[Pending], now: datetime, to: Recipient
    ) -> tuple[list[Pending], list[Say]]:
        """The replies at the head of `waiting` that may go now, made into messages. One that
        can't be made (its certificate erased meanwhile) ends the batch; alone, it is dropped."""
        batch: list[Pending] = []
        messages: list[Say] = []
        for reply in waiting:
            if not reply.sendable(now):
                break
            try:
                messages.append(await self._draw(reply.message))
            except Exception:
                if not batch:
                    log.exception("could not make a reply to send; dropped")
                    self.replies.delivered(reply.id, to)
                break
            batch.append(reply)
        return batch, messages

    async def _failed(self, who: Identity, reply: Pending, error: Exception, now: datetime) -> str:
        """Deal with the failure of `reply`: "wait" (it and those after it wait, in order),
        "gone" (the learner can't be reached: all dropped) or "drop" (this one is dropped)."""
        if isinstance(error, RetryLater):
            until = now + timedelta(seconds=error.seconds)
            await self.replies.defer(reply.id, until, reply.attempts + 1, str(error))
            return "wait"
        if isinstance(error, Transient):
            attempts = reply.attempts + 1
            if attempts < MAX_SEND_ATTEMPTS:
                wait = min(RETRY_BACKOFF * 2 ** (attempts - 1), RETRY_BACKOFF_CAP)
                await self.replies.defer(reply.id, now + wait, attempts, str(error))
                return "wait"
            log.error("gave up a reply to %s after %d tries: %s", who.external_id, attempts, error)
            return "drop"
        if isinstance(error, Unreachable):
            log.info("learner %s is unreachable: %s", who.external_id, error)
            await self.store.set_status(who, "blocked")
            await self.replies.drop_all(who.channel, who.external_id)
            return "gone"
        if isinstance(error, NotAllowed | OverQuota):
            # The channel's window closed before the reply could go (it waited out an
            # outage), or what may go outside it is used up (LINE's monthly pushes): the
            # learner's next message opens it, and the prompt is shown again.
            log.warning("a reply to %s was not sent: %s", who.external_id, error)
        elif isinstance(error, Rejected):
            log.error("the platform refused a reply to %s; dropped: %s", who.external_id, error)
        else:
            log.error("could not send a reply to %s; dropped", who.external_id, exc_info=error)
        return "drop"

    async def _send_directly(self, who: Identity, send: Send, message: Say) -> None:
        try:
            await send(who.external_id, [message])
        except Exception as exc:
            log.warning("could not send an apology to %s: %s", who.external_id, exc)

    async def _draw(self, message: Staged) -> Say:
        if isinstance(message, Say):
            return message
        certificate = await self.store.certificate(message.certificate)
        if certificate is None:
            raise LookupError(f"certificate {message.certificate} is gone (erased?)")
        return await asyncio.to_thread(
            certificate_message, certificate, self.library, self.texts, self.bot_handle
        )

    def locale_for(self, hint: str) -> str:
        """A new learner's locale: their app's language if we ship it, else the default."""
        return negotiate(hint, self.languages, self.default_locale)


async def relay_forever(service: LessonService, period: float = 0.5) -> None:
    """Send replies that are due again: after a crash, a 429's pause, or a 5xx's backoff."""
    await service.replies.load_backlog()
    while True:
        try:
            for channel, address in await service.replies.due(service.clock()):
                await service.flush(channel, address)
        except Exception:
            log.exception("the reply relay failed; trying again")
        await asyncio.sleep(period)
