"""Where a channel's event meets the engine and the store: one learner, one transaction.

Channels call `LessonService.handle` and deliver the messages it returns. Everything that can go
wrong in here is logged with its context and turned into a short apology in the learner's
language, so a learner never sees a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.content import Library
from bot.engine import Context, Event, Say, Text, Texts, advance
from bot.engine.context import N_
from bot.engine.outputs import Action
from bot.engine.runtime import resume_point
from bot.i18n import negotiate
from bot.i18n.zawgyi import to_unicode
from bot.journey.actions import Reply, carry_out
from bot.store import Identity, LearnerStore

log = logging.getLogger(__name__)

Deliver = Callable[[list[Say]], Awaitable[None]]

SORRY = N_(
    "Sorry, something went wrong on our side. Your progress is saved. Send /continue to go on."
)


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

    def __post_init__(self) -> None:
        self._locks = KeyedLocks()

    async def handle(
        self,
        who: Identity,
        event: Event,
        *,
        update_key: str | None = None,
        deliver: Deliver | None = None,
    ) -> list[Say]:
        """Run `event` for `who` and return the messages to deliver.

        Updates of one learner are handled strictly one after another (in this process by a
        lock, across processes by the database transaction), so quick double presses can't
        lose or double progress. `deliver`, if given, sends the messages while the lock is
        still held, so a learner's replies also arrive in order. An update whose `update_key`
        was handled before returns no messages.
        """
        async with self._locks.hold(f"{who.channel}:{who.external_id}"):
            messages = await self._run(who, event, update_key)
            if deliver is not None and messages:
                await deliver(messages)
            return messages

    async def _run(self, who: Identity, event: Event, update_key: str | None) -> list[Say]:
        locale = self.locale_for(who.language)
        try:
            now = self.clock()
            ctx = Context(now=now, texts=self.texts, languages=self.languages)
            async with self.store.learner(who, now, locale, update_key) as record:
                if record.duplicate:
                    log.info("update %s was handled before; skipped", update_key)
                    return []
                state = record.state
                locale = state.locale
                if isinstance(event, Text):
                    event = Text(to_unicode(event.text))  # Burmese typed in Zawgyi
                new_state, outputs = advance(self.library, state, event, ctx)
                await record.save(new_state, outputs, now, resume_point(self.library, new_state))
                replies: list[Say | Reply] = [
                    out
                    if isinstance(out, Say)
                    else await carry_out(
                        out,
                        record,
                        self.library,
                        self.texts,
                        new_state.locale,
                        now,
                        self.bot_handle,
                    )
                    for out in outputs
                    if isinstance(out, Say | Action)
                ]
            return [reply if isinstance(reply, Say) else await reply() for reply in replies]
        except Exception:
            log.exception("failed to handle %r for %s:%s", event, who.channel, who.external_id)
            return [Say(self.texts.ui(locale, SORRY))]

    def locale_for(self, hint: str) -> str:
        """A new learner's locale: their app's language if we ship it, else the default."""
        return negotiate(hint, self.languages, self.default_locale)
