"""Handling stored updates: the inbox worker every channel's updates go through.

Fetching (polling) or receiving (a webhook) only stores an update; this worker hands each
pending one to the channel's own dispatcher. A learner's updates are handed over strictly one
after another, in the order they arrived; different learners' run concurrently. What became of
each update comes back on its `Receipt`:
- done: the learner's transaction marked it (or, for an update no learner transaction touches,
  a group message or a status change, the worker marks it);
- retry: the database failed; it stays pending and is tried again with backoff;
- an exception out of the dispatcher means the framework could not parse it: it is set aside
  with its error, and the updates behind it go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store.inbox import Inbox, Receipt, Stored, current_receipt

log = logging.getLogger(__name__)

Feed = Callable[[dict[str, Any]], Awaitable[None]]
# Who an update is from (the key its order is kept by), or None if nobody in particular.
SenderOf = Callable[[dict[str, Any]], str | None]

BATCH = 500
ABANDONED = timedelta(seconds=30)  # a pending update this old was left by a process that died
RETRY_BACKOFF = 1.0
RETRY_BACKOFF_CAP = 60.0


class InboxWorker:
    def __init__(
        self,
        inbox: Inbox,
        channel: str,
        feed: Feed,
        sender_of: SenderOf,
        *,
        concurrency: int = 100,
        idle_period: float = 2.0,
    ) -> None:
        self.inbox = inbox
        self.channel = channel
        self._feed = feed
        self._sender_of = sender_of
        self._slots = asyncio.Semaphore(concurrency)
        self._idle_period = idle_period
        self._active: set[str] = set()
        self._chains: dict[str, asyncio.Task[None]] = {}
        self._retries: dict[str, tuple[int, float]] = {}  # key -> (attempts, monotonic due)
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = datetime.now(UTC)

    def submit(self, stored: list[tuple[str, dict[str, Any]]]) -> None:
        """Updates just committed to the inbox (key, payload): handle them now, without
        reading them back. The periodic scan in `run` finds any that this misses."""
        for key, payload in stored:
            if key not in self._active:
                self._start(Stored(key, payload))

    async def run(self) -> None:
        """Scan for pending updates: at start (what a crash left), and then every little while
        (updates whose database write failed, to try again)."""
        try:
            while True:
                for row in await self._due():
                    self._start(row)
                await asyncio.sleep(self._idle_period)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _due(self) -> list[Stored]:
        try:
            # What a crash left (received before we started), what another process took in and
            # has not finished after a while (it died), and our own retries. Not what a live
            # process took in just now: it is handling that, in order.
            before = max(self._started, datetime.now(UTC) - ABANDONED)
            rows = await self.inbox.pending(self.channel, BATCH, before, self._retries)
        except Exception:
            log.exception("could not read the inbox; trying again")
            return []
        now = time.monotonic()
        return [
            row
            for row in rows
            if row.key not in self._active and self._retries.get(row.key, (0, 0.0))[1] <= now
        ]

    def _start(self, row: Stored) -> None:
        self._active.add(row.key)
        sender = self._sender_of(row.payload) or row.key
        previous = self._chains.get(sender)
        task = asyncio.create_task(self._handle(row, previous))
        self._chains[sender] = task
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._active.discard(row.key)
            if self._chains.get(sender) is finished:
                del self._chains[sender]

        task.add_done_callback(done)

    async def _handle(self, row: Stored, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # its outcome is its own; only the order matters here
        attempts, _ = self._retries.get(row.key, (0, 0.0))
        receipt = Receipt(row.key, attempt=attempts)
        async with self._slots:
            token = current_receipt.set(receipt)
            try:
                await self._feed(row.payload)
            except Exception as exc:
                # Only the error's kind: its text may quote what the learner sent (the inbox
                # keeps it, with the update, for whoever looks into it).
                log.error(
                    "update %s could not be read (%s); set aside", row.key, type(exc).__name__
                )
                await self._quietly(self.inbox.set_aside(row.key, f"{type(exc).__name__}: {exc}"))
                return
            finally:
                current_receipt.reset(token)
            if receipt.retry:
                wait = min(RETRY_BACKOFF * 2**attempts, RETRY_BACKOFF_CAP)
                self._retries[row.key] = (attempts + 1, time.monotonic() + wait)
                return
            self._retries.pop(row.key, None)
            if not receipt.done:
                await self._quietly(self.inbox.finish(row.key))

    @staticmethod
    async def _quietly(call: Awaitable[None]) -> None:
        try:
            await call
        except Exception:
            # It stays pending and is handed over again; the learner transaction dedupes it.
            log.exception("could not record an update's outcome in the inbox")
