"""Where a channel's event meets the engine and the store: one learner, one transaction.

Channels call `LessonService.handle` and deliver the messages it returns. Everything that can go
wrong in here is logged with its context and turned into a short apology in the learner's
language, so a learner never sees a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.content import Library
from bot.engine import Context, Event, Say, Texts, advance
from bot.store import Identity, LearnerStore

log = logging.getLogger(__name__)

SORRY = ("Sorry, something went wrong on our side. Your progress is saved. "
         "Send /continue to go on.")


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

    def __post_init__(self) -> None:
        self._locks = KeyedLocks()

    async def handle(self, who: Identity, event: Event) -> list[Say]:
        """Run `event` for `who` and return the messages to deliver.

        Updates of one learner are handled strictly one after another (in this process by a
        lock, across processes by the database transaction), so quick double presses can't
        lose or double progress.
        """
        locale = self.default_locale
        async with self._locks.hold(f"{who.channel}:{who.external_id}"):
            try:
                now = self.clock()
                ctx = Context(now=now, texts=self.texts, languages=self.languages)
                async with self.store.learner(who, now, self._first_locale(who)) as record:
                    state = record.state
                    locale = state.locale
                    new_state, outputs = advance(self.library, state, event, ctx)
                    await record.save(new_state, outputs, now)
                return [out for out in outputs if isinstance(out, Say)]
            except Exception:
                log.exception("failed to handle %r for %s:%s", event, who.channel,
                              who.external_id)
                return [Say(self.texts.ui(locale, SORRY))]

    def _first_locale(self, who: Identity) -> str:
        """A new learner's locale: their app's language if we ship it, else the default."""
        hint = who.language.replace("_", "-").split("-")[0].lower()
        return hint if hint in self.languages else self.default_locale
