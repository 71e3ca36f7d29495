"""The durable inbox: every channel update is stored before the channel is told it arrived.

Polling asks for the next offset, and a webhook answers 200, only after `receive` commits. The
update is then handled from here; handling marks it `done` in the learner's own transaction
(`claim`), so a crash at any moment leaves it either done or still pending, and a restart
finishes it. Redeliveries meet the unique key and are ignored.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, bindparam, delete, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.db import for_reading, insert_or_skip
from bot.store.models import InboxUpdate
from bot.store.prepared import Prepared
from bot.store.writer import transact, write


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


@dataclass(frozen=True)
class Stored:
    key: str
    payload: dict[str, Any]


@dataclass
class Receipt:
    """What became of the update being handled in this task (a context variable, below).

    The framework's dispatcher sits between the inbox worker and the service, and hands back
    nothing, so the service reports here: `done` when the learner's transaction also marked the
    update done, `retry` when the database failed and the update must be tried again.
    """

    key: str
    attempt: int = 0
    done: bool = False
    retry: bool = False


current_receipt: contextvars.ContextVar[Receipt | None] = contextvars.ContextVar(
    "current_receipt", default=None
)


def report_done(key: str | None) -> None:
    """Tell the inbox worker that the update `key` was marked done by the handler's own
    transaction (`claim`), so the worker need not record it again."""
    receipt = current_receipt.get()
    if receipt is not None and key is not None and receipt.key == key:
        receipt.done = True


# Every poll and webhook call stores its updates with this (see bot.store.prepared).
_RECEIVE = Prepared(
    lambda dialect: insert_or_skip(dialect, InboxUpdate).on_conflict_do_nothing(
        index_elements=["key"]
    )
)


class Inbox:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._reads = for_reading(engine)

    async def receive(
        self, channel: str, updates: Iterable[tuple[str, dict[str, Any]]], now: datetime
    ) -> None:
        """Store updates (key, payload) in one transaction; keys seen before are ignored."""
        rows = [
            {
                "key": key,
                "channel": channel,
                "payload": payload,
                "status": "pending",
                "received_at": _naive(now),
            }
            for key, payload in updates
        ]
        if rows:
            await transact(self.engine, lambda conn: _RECEIVE.execute_many(conn, rows))

    async def pending(
        self, channel: str, limit: int, received_before: datetime, keys: Iterable[str] = ()
    ) -> list[Stored]:
        """Updates still to handle that were received before a moment, or have one of `keys`,
        oldest first (a read: an idle bot takes no write lock)."""
        which = InboxUpdate.received_at < _naive(received_before)
        if keys := list(keys):
            which = which | InboxUpdate.key.in_(keys)
        query = (
            select(InboxUpdate.key, InboxUpdate.payload)
            .where(InboxUpdate.status == "pending", InboxUpdate.channel == channel, which)
            .order_by(InboxUpdate.id)
            .limit(limit)
        )
        async with self._reads.connect() as conn:
            return [Stored(*row) for row in (await conn.execute(query)).all()]

    async def finish(self, key: str) -> None:
        """Mark an update done that no learner transaction did (a group, a status change)."""
        statement = (
            update(InboxUpdate)
            .where(InboxUpdate.key == key, InboxUpdate.status == "pending")
            .values(status="done")
        )
        await write(self.engine, statement)

    async def set_aside(self, key: str, error: str) -> None:
        """An update that cannot be parsed: kept with its error, never tried again."""
        statement = (
            update(InboxUpdate)
            .where(InboxUpdate.key == key)
            .values(status="poison", error=error[:300])
        )
        await write(self.engine, statement)

    async def poisoned(self) -> list[tuple[str, str | None]]:
        async with self._reads.connect() as conn:
            query = select(InboxUpdate.key, InboxUpdate.error).where(InboxUpdate.status == "poison")
            return [(str(key), error) for key, error in (await conn.execute(query)).all()]

    async def forget_before(self, moment: datetime) -> None:
        """Drop handled updates older than any redelivery a platform would make."""
        statement = delete(InboxUpdate).where(
            InboxUpdate.status == "done", InboxUpdate.received_at < _naive(moment)
        )
        await write(self.engine, statement)


_CLAIM = Prepared(
    text(
        "INSERT INTO inbox (key, channel, payload, status, received_at) "
        "VALUES (:key, :channel, '{}', 'done', :now) "
        "ON CONFLICT (key) DO UPDATE SET status = 'done' WHERE inbox.status = 'pending'"
    ).bindparams(bindparam("now", type_=DateTime()))
)


def claim(conn: Connection, key: str, now: datetime) -> bool:
    """Mark `key` done inside the caller's transaction; False if it was handled before.

    One statement covers both an update that came through the inbox (pending: now done) and
    one handed to the service directly (not stored yet: stored as done).
    """
    channel = key.partition(":")[0]
    return _CLAIM.rowcount(conn, {"key": key, "channel": channel, "now": _naive(now)}) > 0
