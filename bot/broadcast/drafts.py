"""Broadcast drafts: what an admin previewed, to be queued once.

A preview stores the broadcast exactly as shown and puts the draft's id on its "Send now" and
"Schedule" buttons. Queuing consumes the draft in the transaction that queues the recipients
(`consume`, called by `Outbox.create`), so a double tap, an old button pressed again, or a
redelivered update finds it consumed and queues nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.message import BroadcastFile
from bot.errors import LessonBotError
from bot.store.db import for_reading
from bot.store.learners import db_time
from bot.store.models import BroadcastDraft


class AlreadyQueued(LessonBotError):
    """The draft was queued before; nothing was queued again."""

    def __init__(self, draft_id: int) -> None:
        super().__init__(f"draft {draft_id} was queued already")
        self.draft_id = draft_id


@dataclass(frozen=True)
class Draft:
    id: int
    message: BroadcastFile
    broadcast_id: int | None  # set once it was queued


class Drafts:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._reads = for_reading(engine)

    async def save(self, message: BroadcastFile, actor: str, now: datetime) -> int:
        statement = (
            insert(BroadcastDraft)
            .values(
                created_by=actor,
                message=message.model_dump(mode="json", by_alias=True),
                created_at=db_time(now),
                broadcast_id=None,
            )
            .returning(BroadcastDraft.id)
        )
        async with self.engine.begin() as conn:
            return int((await conn.execute(statement)).scalar_one())

    async def get(self, draft_id: int, actor: str) -> Draft | None:
        """The actor's own draft; None if there is no such draft of theirs."""
        query = select(BroadcastDraft.message, BroadcastDraft.broadcast_id).where(
            BroadcastDraft.id == draft_id, BroadcastDraft.created_by == actor
        )
        async with self._reads.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return Draft(draft_id, BroadcastFile.model_validate(row.message), row.broadcast_id)


async def consume(conn: Any, draft_id: int, actor: str, broadcast_id: int) -> None:
    """Mark the draft queued as `broadcast_id`, inside the queuing transaction (an async
    connection); AlreadyQueued if it was, which rolls the queuing back.

    The condition is in the UPDATE itself: of two transactions racing to queue one draft,
    the second finds it taken (SQLite runs them one after the other; PostgreSQL makes the
    second wait for the first's row lock and then re-reads the row).
    """
    result = await conn.execute(
        update(BroadcastDraft)
        .where(
            BroadcastDraft.id == draft_id,
            BroadcastDraft.created_by == actor,
            BroadcastDraft.broadcast_id.is_(None),
        )
        .values(broadcast_id=broadcast_id)
    )
    if result.rowcount != 1:
        raise AlreadyQueued(draft_id)
