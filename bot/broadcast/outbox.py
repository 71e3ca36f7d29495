"""The durable outbox: one row per recipient of a broadcast, and the queries that move it.

Queuing is one INSERT ... SELECT, so 250,000 recipients never pass through Python. Claiming
uses `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several senders share one broadcast; SQLite has
one writer anyway. A row stays `sending` while in flight; if its process dies, the row is
claimed again after the lease, which is the one window in which a learner can get a message
twice.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.hours import next_local
from bot.broadcast.message import BroadcastFile, Segment
from bot.content.library import Library
from bot.store.models import AuditEntry, Broadcast, Learner, LessonProgress, OutboxRow
from bot.zones import COUNTRY_ZONES

OPEN = ("pending", "sending")
STATUSES = ("pending", "sending", "sent", "failed", "blocked", "skipped")


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Claimed:
    row_id: int
    broadcast_id: int
    attempts: int
    external_id: str
    locale: str
    country: str | None
    first_name: str


@dataclass(frozen=True)
class Result:
    row_id: int
    status: str  # pending (retry or deferred) | sent | failed | blocked
    attempts: int
    next_attempt_at: datetime | None = None
    error: str | None = None
    message_id: int | None = None
    learner_blocked: str | None = None  # external id to mark blocked


class Outbox:
    def __init__(self, engine: AsyncEngine, channel: str = "telegram") -> None:
        self.engine = engine
        self.channel = channel

    # -- queuing -------------------------------------------------------------------------------

    def audience(self, segment: Segment, library: Library, now: datetime) -> Select[Any]:
        """Learner ids, locales and countries that `segment` reaches (a query, not a list)."""
        query: Select[Any] = select(  # type: ignore[assignment]
            Learner.id, Learner.locale, Learner.country
        ).where(
            Learner.channel == self.channel,
            Learner.status == "active",
            Learner.opted_out.is_(False),
        )  # /stop
        if segment.locale:
            query = query.where(Learner.locale.in_(segment.locale))
        if segment.country:
            query = query.where(Learner.country.in_(segment.country))
        if segment.enrolled:
            query = query.where(
                exists().where(
                    LessonProgress.learner_id == Learner.id,
                    LessonProgress.course == segment.enrolled,
                )
            )
        if segment.completed:
            course = library.course(segment.completed)
            needed = len(course.lessons) if course else 1
            done = (
                select(func.count())
                .select_from(LessonProgress)
                .where(
                    LessonProgress.learner_id == Learner.id,
                    LessonProgress.course == segment.completed,
                    LessonProgress.status == "completed",
                )
                .scalar_subquery()
            )
            query = query.where(done >= needed)
        if segment.active_within_days:
            since = naive(now - timedelta(days=segment.active_within_days))
            query = query.where(Learner.last_active_at >= since)
        if segment.tags:
            query = query.where(self._has_any_tag(segment.tags))
        return query

    def _has_any_tag(self, tags: Sequence[str]) -> Any:
        params = {f"tag{i}": tag for i, tag in enumerate(tags)}
        names = ", ".join(f":{name}" for name in params)
        if self.engine.dialect.name == "postgresql":
            clause = f"CAST(learners.tags AS jsonb) ?| ARRAY[{names}]"
        else:
            clause = f"EXISTS (SELECT 1 FROM json_each(learners.tags) WHERE value IN ({names}))"
        return text(clause).bindparams(**params)

    async def count_by_locale(
        self, segment: Segment, library: Library, now: datetime
    ) -> dict[str, int]:
        reached = self.audience(segment, library, now).subquery()
        query = select(reached.c.locale, func.count()).group_by(reached.c.locale)
        async with self.engine.connect() as conn:
            return {str(loc): int(n) for loc, n in (await conn.execute(query)).all()}

    async def create(
        self,
        message: BroadcastFile,
        segment: Segment,
        library: Library,
        *,
        actor: str,
        now: datetime,
        notify_chat: str | None = None,
    ) -> int:
        """Record the broadcast and queue every recipient, in one transaction."""
        first = (
            naive(message.schedule.at) if message.schedule and message.schedule.at else naive(now)
        )
        async with self.engine.begin() as conn:
            broadcast_id = (
                await conn.execute(
                    insert(Broadcast)
                    .values(
                        name=message.id,
                        message=message.model_dump(mode="json", by_alias=True),
                        segment=segment.model_dump(mode="json"),
                        status="sending",
                        created_by=actor,
                        notify_chat=notify_chat,
                        created_at=naive(now),
                        finished_at=None,
                    )
                    .returning(Broadcast.id)
                )
            ).scalar_one()
            reached = self.audience(segment, library, now).subquery()
            due: Any = literal(first)
            if message.schedule and message.schedule.local_time:
                at = message.schedule.local_time
                # Each country's own local time; no DST in the region, so one value each.
                due = case(
                    {code: literal(naive(next_local(now, code, at))) for code in COUNTRY_ZONES},
                    value=reached.c.country,
                    else_=literal(naive(next_local(now, None, at))),
                )
            await conn.execute(
                insert(OutboxRow).from_select(
                    ["broadcast_id", "learner_id", "status", "attempts", "next_attempt_at"],
                    select(
                        literal(broadcast_id), reached.c.id, literal("pending"), literal(0), due
                    ),
                )
            )
            await self._audit(
                conn,
                actor,
                "broadcast.create",
                {
                    "broadcast": broadcast_id,
                    "name": message.id,
                    "segment": segment.model_dump(mode="json"),
                },
                now,
            )
        return int(broadcast_id)

    # -- sending -------------------------------------------------------------------------------

    async def claim(
        self, now: datetime, limit: int, lease: timedelta, broadcast_id: int | None = None
    ) -> list[Claimed]:
        """Due rows, marked `sending`. Rows stuck in `sending` past the lease count as due."""
        stale = naive(now - lease)
        due = or_(
            and_(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= naive(now)),
            and_(OutboxRow.status == "sending", OutboxRow.claimed_at < stale),
        )
        query = (
            select(OutboxRow.id)
            .join(Broadcast, Broadcast.id == OutboxRow.broadcast_id)
            .where(due, Broadcast.status == "sending")
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        if broadcast_id is not None:
            query = query.where(OutboxRow.broadcast_id == broadcast_id)
        if self.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=OutboxRow)
        async with self.engine.begin() as conn:
            ids = list((await conn.execute(query)).scalars())
            if not ids:
                return []
            await conn.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(ids))
                .values(status="sending", claimed_at=naive(now))
            )
            rows = (
                await conn.execute(
                    select(
                        OutboxRow.id,
                        OutboxRow.broadcast_id,
                        OutboxRow.attempts,
                        Learner.external_id,
                        Learner.locale,
                        Learner.country,
                        Learner.first_name,
                    )
                    .join(Learner, Learner.id == OutboxRow.learner_id)
                    .where(OutboxRow.id.in_(ids))
                    .order_by(OutboxRow.id)
                )
            ).all()
        return [Claimed(*row) for row in rows]

    async def record(self, results: Sequence[Result], now: datetime) -> None:
        """Store what happened to claimed rows, in one transaction."""
        if not results:
            return
        rows = [
            {
                "row_id": r.row_id,
                "new_status": r.status,
                "tries": r.attempts,
                "due": naive(r.next_attempt_at or now),
                "error": (r.error or "")[:300] or None,
                "sent_message": r.message_id,
                "sent_time": naive(now) if r.status == "sent" else None,
            }
            for r in results
        ]
        blocked = [r.learner_blocked for r in results if r.learner_blocked is not None]
        async with self.engine.begin() as conn:
            # One executemany for the whole batch: at 1000 messages/s, per-row statements
            # would be the bottleneck.
            await conn.execute(
                update(OutboxRow)
                .where(OutboxRow.id == bindparam("row_id"))
                .values(
                    status=bindparam("new_status"),
                    attempts=bindparam("tries"),
                    next_attempt_at=bindparam("due"),
                    last_error=bindparam("error"),
                    message_id=bindparam("sent_message"),
                    sent_at=bindparam("sent_time"),
                ),
                rows,
            )
            if blocked:
                await conn.execute(
                    update(Learner)
                    .where(
                        Learner.channel == self.channel,
                        Learner.external_id.in_(blocked),
                    )
                    .values(status="blocked")
                )

    async def release_in_flight(self, broadcast_id: int | None = None) -> int:
        """Make rows a dead sender left `sending` due again now (an explicit takeover)."""
        query = update(OutboxRow).where(OutboxRow.status == "sending")
        if broadcast_id is not None:
            query = query.where(OutboxRow.broadcast_id == broadcast_id)
        async with self.engine.begin() as conn:
            result = await conn.execute(query.values(status="pending", claimed_at=None))
        return int(getattr(result, "rowcount", 0) or 0)

    async def next_due(self, broadcast_id: int | None = None) -> datetime | None:
        query = (
            select(func.min(OutboxRow.next_attempt_at))
            .join(Broadcast, Broadcast.id == OutboxRow.broadcast_id)
            .where(OutboxRow.status.in_(OPEN), Broadcast.status == "sending")
        )
        if broadcast_id is not None:
            query = query.where(OutboxRow.broadcast_id == broadcast_id)
        async with self.engine.connect() as conn:
            found = (await conn.execute(query)).scalar()
        return found.replace(tzinfo=UTC) if found else None

    async def finish_done(self, now: datetime) -> list[Broadcast]:
        """Mark broadcasts with nothing left to send as done; return them (for summaries)."""
        still_open = exists().where(
            OutboxRow.broadcast_id == Broadcast.id, OutboxRow.status.in_(OPEN)
        )
        async with self.engine.begin() as conn:
            done = list(
                (
                    await conn.execute(
                        select(Broadcast).where(Broadcast.status == "sending", ~still_open)
                    )
                ).all()
            )
            ids = [row.id for row in done]
            if ids:
                await conn.execute(
                    update(Broadcast)
                    .where(Broadcast.id.in_(ids))
                    .values(status="done", finished_at=naive(now))
                )
        return [Broadcast(**row._mapping) for row in done]

    # -- admin ---------------------------------------------------------------------------------

    async def counts(self, broadcast_id: int) -> dict[str, int]:
        query = (
            select(OutboxRow.status, func.count())
            .where(OutboxRow.broadcast_id == broadcast_id)
            .group_by(OutboxRow.status)
        )
        async with self.engine.connect() as conn:
            found = {str(s): int(n) for s, n in (await conn.execute(query)).all()}
        return {status: found.get(status, 0) for status in STATUSES}

    async def failure_reasons(self, broadcast_id: int) -> dict[str, int]:
        query = (
            select(OutboxRow.last_error, func.count())
            .where(
                OutboxRow.broadcast_id == broadcast_id, OutboxRow.status.in_(("failed", "blocked"))
            )
            .group_by(OutboxRow.last_error)
        )
        async with self.engine.connect() as conn:
            return {str(r or "unknown"): int(n) for r, n in (await conn.execute(query)).all()}

    async def write_failures(self, broadcast_id: int, out: TextIO) -> int:
        """A CSV of every recipient who didn't get it, and why."""
        query = (
            select(
                Learner.external_id,
                Learner.locale,
                Learner.country,
                OutboxRow.status,
                OutboxRow.attempts,
                OutboxRow.last_error,
            )
            .join(Learner, Learner.id == OutboxRow.learner_id)
            .where(
                OutboxRow.broadcast_id == broadcast_id, OutboxRow.status.in_(("failed", "blocked"))
            )
            .order_by(OutboxRow.id)
        )
        writer = csv.writer(out)
        writer.writerow(["telegram_id", "locale", "country", "status", "attempts", "reason"])
        count = 0
        async with self.engine.connect() as conn:
            async for row in await conn.stream(query):
                writer.writerow(list(row))
                count += 1
        return count

    async def broadcasts(self) -> list[Broadcast]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(Broadcast).order_by(Broadcast.id.desc()))).all()
        return [Broadcast(**row._mapping) for row in rows]

    async def get(self, broadcast_id: int) -> Broadcast | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(Broadcast).where(Broadcast.id == broadcast_id))
            ).first()
        return Broadcast(**row._mapping) if row else None

    async def cancel(self, broadcast_id: int, actor: str, now: datetime) -> int:
        """Stop a broadcast: its unsent rows become `skipped`. Returns how many."""
        async with self.engine.begin() as conn:
            skipped = await conn.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.broadcast_id == broadcast_id,
                    OutboxRow.status == "pending",
                )
                .values(status="skipped", last_error="cancelled")
            )
            await conn.execute(
                update(Broadcast)
                .where(Broadcast.id == broadcast_id)
                .values(status="cancelled", finished_at=naive(now))
            )
            await self._audit(conn, actor, "broadcast.cancel", {"broadcast": broadcast_id}, now)
        return int(getattr(skipped, "rowcount", 0) or 0)

    async def audit(self, actor: str, action: str, detail: dict[str, Any], now: datetime) -> None:
        async with self.engine.begin() as conn:
            await self._audit(conn, actor, action, detail, now)

    @staticmethod
    async def _audit(
        conn: Any, actor: str, action: str, detail: dict[str, Any], now: datetime
    ) -> None:
        await conn.execute(
            insert(AuditEntry).values(
                actor=actor, action=action, detail=detail, created_at=naive(now)
            )
        )
