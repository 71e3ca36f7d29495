"""The durable outbox: one row per recipient of a broadcast, and the queries that move it.

Queuing is one INSERT ... SELECT, so 250,000 recipients never pass through Python.

A sender claims rows by marking them `sending` with its own owner id, in the same transaction as
its heartbeat (`broadcast_senders`); it records each result as it comes (see sender.py). Rows
whose owner's heartbeat is stale, absent, or (on this host) whose process is gone are claimable
at once: a crash leaves no lease to wait out. On PostgreSQL the claim takes
`FOR UPDATE SKIP LOCKED`, so several senders share one broadcast; SQLite has one writer anyway.

The sending path's writes are jobs for `bot.store.writer`: on SQLite they are group-committed
with the rest of the process's writes (learners' updates too) by its one writer thread.

Every query of the sending path names one broadcast first and then a status, so it reads a
range of `ix_outbox_claim` (broadcast_id, status, next_attempt_at): the pending rows that are
due and the rows held in `sending` are two such ranges, never an `OR` over the whole table.
An idle sender only reads (`peek`, with a plain BEGIN), so it takes no write lock on SQLite.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from sqlalchemy import (
    Select,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.drafts import consume
from bot.broadcast.hours import next_local
from bot.broadcast.message import BroadcastFile, Segment
from bot.content.library import Library
from bot.store.admins import audit
from bot.store.db import for_reading, insert_or_skip
from bot.store.models import (
    Broadcast,
    BroadcastSender,
    Learner,
    LessonProgress,
    OutboxRow,
)
from bot.store.processes import HOST, pid_gone
from bot.store.writer import transact
from bot.zones import COUNTRY_ZONES

OPEN = ("pending", "sending")
STATUSES = ("pending", "sending", "sent", "failed", "blocked", "skipped")
# A sender beats every second or so; one silent for this long is taken for dead.
STALE = timedelta(seconds=5)
RUNNING: set[str] = set()  # the owner ids of this process's sender runs


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def wall() -> datetime:
    """Real time, for heartbeats (a sender's own clock may be a test's or a benchmark's)."""
    return datetime.now(UTC)


def _gone(owner: str, host: str, pid: int) -> bool:
    """True only when the sender certainly no longer runs: it was in this process and is not
    running now, or on this host and its pid is free or a zombie. Anywhere else, the
    heartbeat's age decides."""
    if host == HOST and pid == os.getpid():  # us, or one before us with our pid (a container)
        return owner not in RUNNING
    return pid_gone(host, pid)


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
    photo: tuple[int, str] | None = None  # (broadcast id, the photo's id) when just uploaded


@dataclass(frozen=True)
class Peek:
    """What a sender has to do, as one read saw it."""

    next_due: datetime | None  # the earliest pending row's due time; None: nothing pending
    reclaimable: bool  # rows held by a dead sender
    elsewhere: bool  # rows held by a live sender (another process, or another run)
    finished: list[int] = field(default_factory=list)  # broadcasts with nothing left open


def _live(conn: Connection, broadcast_id: int | None) -> list[int]:
    """The broadcasts being sent (all, or the one asked for), oldest first."""
    query = select(Broadcast.id).where(Broadcast.status == "sending").order_by(Broadcast.id)
    if broadcast_id is not None:
        query = query.where(Broadcast.id == broadcast_id)
    return [int(each) for each in conn.execute(query).scalars()]


def _beat(conn: Connection, owner: str) -> None:
    moment = naive(wall())
    upsert = insert_or_skip(conn.dialect.name, BroadcastSender).values(
        owner=owner, host=HOST, pid=os.getpid(), started_at=moment, beat_at=moment
    )
    conn.execute(upsert.on_conflict_do_update(index_elements=["owner"], set_={"beat_at": moment}))


class Outbox:
    def __init__(self, engine: AsyncEngine, channel: str = "telegram") -> None:
        self.engine = engine
        self.channel = channel
        self._reads = for_reading(engine)

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
        async with self._reads.connect() as conn:
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
        draft: int | None = None,
    ) -> int:
        """Record the broadcast and queue every recipient, in one transaction. With `draft`,
        that previewed draft is consumed in it too: AlreadyQueued, and nothing queued, if it
        was consumed before (see bot.broadcast.drafts)."""
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
            if draft is not None:
                await consume(conn, draft, actor, broadcast_id)
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
            await audit(
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

    async def peek(self, broadcast_id: int | None = None, stale: timedelta = STALE) -> Peek:
        """What there is to do, read without a write transaction (an idle sender's poll takes
        no write lock on SQLite)."""
        fresh = naive(wall() - stale)

        def read(conn: Connection) -> Peek:
            due_at: datetime | None = None
            reclaimable = elsewhere = False
            finished = []
            beats = {
                row.owner: row
                for row in conn.execute(
                    select(BroadcastSender.owner, BroadcastSender.host, BroadcastSender.pid).where(
                        BroadcastSender.beat_at >= fresh
                    )
                ).all()
            }
            for each in _live(conn, broadcast_id):
                # Each query leads with the broadcast id, so it reads ix_outbox_claim's range for
                # that broadcast and status, never the other broadcasts' rows.
                first = conn.execute(
                    select(func.min(OutboxRow.next_attempt_at)).where(
                        OutboxRow.broadcast_id == each, OutboxRow.status == "pending"
                    )
                ).scalar()
                owners = list(
                    conn.execute(
                        select(OutboxRow.owner)
                        .where(OutboxRow.broadcast_id == each, OutboxRow.status == "sending")
                        .distinct()
                    ).scalars()
                )
                if first is not None and (due_at is None or first < due_at):
                    due_at = first
                for owner in owners:
                    beat = beats.get(owner) if owner is not None else None
                    if beat is None or _gone(*beat):  # none fresh, or its process is gone
                        reclaimable = True
                    else:
                        elsewhere = True
                if first is None and not owners:
                    finished.append(each)
            due = due_at.replace(tzinfo=UTC) if due_at else None
            return Peek(due, reclaimable, elsewhere, finished)

        async with self._reads.connect() as conn:
            return await conn.run_sync(read)

    async def reclaim(self, broadcast_id: int | None = None, stale: timedelta = STALE) -> int:
        """Make the rows of dead senders due again now; return how many.

        A sender is dead when its heartbeat is older than `stale`, when it has none (it ended,
        or the row predates heartbeats), or when it ran on this host and its process is gone.
        The check reads first, so when nobody died this takes no write lock.
        """
        if not (await self.peek(broadcast_id, stale)).reclaimable:
            return 0
        fresh = naive(wall() - stale)

        def job(conn: Connection) -> int:
            gone = [
                row.owner
                for row in conn.execute(select(BroadcastSender)).all()
                if _gone(row.owner, row.host, row.pid)
            ]
            alive = select(BroadcastSender.owner).where(BroadcastSender.beat_at >= fresh)
            released = 0
            for each in _live(conn, broadcast_id):
                result = conn.execute(
                    update(OutboxRow)
                    .where(
                        OutboxRow.broadcast_id == each,
                        OutboxRow.status == "sending",
                        or_(
                            OutboxRow.owner.is_(None),
                            OutboxRow.owner.not_in(alive),
                            OutboxRow.owner.in_(gone),
                        ),
                    )
                    .values(status="pending", owner=None)
                )
                released += int(getattr(result, "rowcount", 0) or 0)
            conn.execute(
                delete(BroadcastSender).where(
                    or_(BroadcastSender.beat_at < fresh, BroadcastSender.owner.in_(gone))
                )
            )
            return released

        return await transact(self.engine, job)

    async def claim(
        self, now: datetime, limit: int, owner: str, broadcast_id: int | None = None
    ) -> list[Claimed]:
        """Due rows, marked `sending` and held by `owner`, whose heartbeat this also writes (in
        the same transaction, so nobody can see the rows without it)."""
        postgres = self.engine.dialect.name == "postgresql"

        def job(conn: Connection) -> list[Claimed]:
            _beat(conn, owner)
            found: list[Any] = []
            for each in _live(conn, broadcast_id):
                if len(found) >= limit:
                    break
                # Due order within one broadcast: the index's own order, so LIMIT stops early.
                query = (
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
                    .where(
                        OutboxRow.broadcast_id == each,
                        OutboxRow.status == "pending",
                        OutboxRow.next_attempt_at <= naive(now),
                    )
                    .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
                    .limit(limit - len(found))
                )
                if postgres:
                    # Several senders share a broadcast: each skips the rows another is claiming.
                    query = query.with_for_update(skip_locked=True, of=OutboxRow)
                found.extend(conn.execute(query).all())
            if found:
                conn.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_([row.id for row in found]))
                    .values(status="sending", owner=owner, claimed_at=naive(wall()))
                )
            return [Claimed(*row) for row in found]

        return await transact(self.engine, job)

    async def beat(self, owner: str) -> None:
        """Tell other senders that `owner` is alive and still sending the rows it holds."""
        await transact(self.engine, lambda conn: _beat(conn, owner))

    async def leave(self, owner: str, unsent: Sequence[int] = ()) -> None:
        """A sender run ends: rows it claimed but never started go back to `pending`, and its
        heartbeat goes, so any row still `sending` under it (a send cut short) is claimable."""
        ids = list(unsent)

        def job(conn: Connection) -> None:
            if ids:
                conn.execute(
                    update(OutboxRow)
                    .where(
                        OutboxRow.id.in_(ids),
                        OutboxRow.owner == owner,
                        OutboxRow.status == "sending",
                    )
                    .values(status="pending", owner=None)
                )
            conn.execute(delete(BroadcastSender).where(BroadcastSender.owner == owner))

        await transact(self.engine, job)

    async def record(
        self, results: Sequence[Result], now: datetime, owner: str, *, beat: bool = False
    ) -> None:
        """Store what happened to claimed rows, in one transaction (one executemany); with
        `beat`, `owner`'s heartbeat too.

        Only rows `owner` still holds are written: if another sender took a row over (this one
        was thought dead), its record stands.
        """
        if not results:
            return
        rows = [
            {
                "row_id": r.row_id,
                "holder": owner,
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
        photos = [r.photo for r in results if r.photo is not None]
        channel = self.channel

        def job(conn: Connection) -> None:
            if beat:
                _beat(conn, owner)
            for broadcast_id, photo_id in photos:  # so a resumed run sends it without upload
                conn.execute(
                    update(Broadcast)
                    .where(Broadcast.id == broadcast_id, Broadcast.photo_id.is_(None))
                    .values(photo_id=photo_id)
                )
            conn.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == bindparam("row_id"),
                    OutboxRow.owner == bindparam("holder"),
                    OutboxRow.status == "sending",
                )
                .values(
                    status=bindparam("new_status"),
                    owner=None,
                    attempts=bindparam("tries"),
                    next_attempt_at=bindparam("due"),
                    last_error=bindparam("error"),
                    message_id=bindparam("sent_message"),
                    sent_at=bindparam("sent_time"),
                ),
                rows,
            )
            if blocked:
                conn.execute(
                    update(Learner)
                    .where(Learner.channel == channel, Learner.external_id.in_(blocked))
                    .values(status="blocked")
                )

        await transact(self.engine, job)

    async def next_due(self, broadcast_id: int | None = None) -> datetime | None:
        """When the next pending row is due (None: no row is pending)."""
        return (await self.peek(broadcast_id)).next_due

    async def finish_done(
        self, now: datetime, candidates: Sequence[int] | None = None
    ) -> list[Broadcast]:
        """Mark broadcasts with nothing left to send as done; return them (for summaries).

        `candidates` are ids a `peek` found finished: without any, nothing is written.
        """
        if candidates is None:
            candidates = (await self.peek()).finished
        if not candidates:
            return []
        ids = list(candidates)
        still_open = exists().where(
            OutboxRow.broadcast_id == Broadcast.id, OutboxRow.status.in_(OPEN)
        )

        def job(conn: Connection) -> list[Broadcast]:
            done = conn.execute(
                select(Broadcast).where(
                    Broadcast.id.in_(ids), Broadcast.status == "sending", ~still_open
                )
            ).all()
            if done:
                conn.execute(
                    update(Broadcast)
                    .where(Broadcast.id.in_([row.id for row in done]))
                    .values(status="done", finished_at=naive(now))
                )
            return [Broadcast(**row._mapping) for row in done]

        return await transact(self.engine, job)

    # -- admin ---------------------------------------------------------------------------------

    async def counts(self, broadcast_id: int) -> dict[str, int]:
        query = (
            select(OutboxRow.status, func.count())
            .where(OutboxRow.broadcast_id == broadcast_id)
            .group_by(OutboxRow.status)
        )
        async with self._reads.connect() as conn:
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
        async with self._reads.connect() as conn:
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
        async with self._reads.connect() as conn:
            async for row in await conn.stream(query):
                writer.writerow(list(row))
                count += 1
        return count

    async def broadcasts(self) -> list[Broadcast]:
        async with self._reads.connect() as conn:
            rows = (await conn.execute(select(Broadcast).order_by(Broadcast.id.desc()))).all()
        return [Broadcast(**row._mapping) for row in rows]

    async def get(self, broadcast_id: int) -> Broadcast | None:
        async with self._reads.connect() as conn:
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
            await audit(conn, actor, "broadcast.cancel", {"broadcast": broadcast_id}, now)
        return int(getattr(skipped, "rowcount", 0) or 0)

    async def audit(self, actor: str, action: str, detail: dict[str, Any], now: datetime) -> None:
        async with self.engine.begin() as conn:
            await audit(conn, actor, action, detail, now)
