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

Channels. A broadcast's rows are every learner it reaches, on every app. Each channel's sender
has its own `Outbox(engine, channel)` and claims only the rows of its channel's learners (the
claim joins the learner: the outbox row holds no channel, so the same index range serves every
channel's sender). Once a sender has seen that none of a broadcast's rows of its channel are
open, it stops looking at them: no row ever goes back from sent, failed, blocked or skipped.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Collection, Sequence
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
from bot.channels.capabilities import CHANNELS
from bot.content.library import Library
from bot.store.admins import audit
from bot.store.db import for_reading, insert_or_skip
from bot.store.models import (
    Broadcast,
    BroadcastSender,
    Learner,
    LessonProgress,
    MediaFile,
    OutboxRow,
)
from bot.store.processes import HOST, pid_gone
from bot.store.writer import transact
from bot.zones import COUNTRY_ZONES

OPEN = ("pending", "sending")
STATUSES = ("pending", "sending", "sent", "failed", "blocked", "skipped")
# Not delivered, for good: what the failures CSV and the reasons list.
NOT_DELIVERED = ("failed", "blocked", "skipped")
# The channel whose photo id a broadcast row keeps (`Broadcast.photo_id`); the others' ids are
# kept where lesson media's are (`media_files`, by channel, path and content).
PHOTO_ON_BROADCAST = "telegram"
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
class Uploaded:
    """A broadcast photo the channel has just taken, and its id for the next sends."""

    broadcast_id: int
    photo_id: str
    path: str
    digest: str | None  # the file's content (sha256), for channels that keep it in media_files


@dataclass(frozen=True)
class Result:
    row_id: int
    status: str  # pending (retry or deferred) | sent | failed | blocked | skipped
    attempts: int
    next_attempt_at: datetime | None = None
    error: str | None = None
    message_id: int | str | None = None  # a str (WhatsApp's wamid) is kept as `platform_id`
    learner_blocked: str | None = None  # external id to mark blocked
    photo: Uploaded | None = None  # when this send uploaded the broadcast's photo


@dataclass(frozen=True)
class Reason:
    """Rows of one channel and status that share a reason, for the admin's report."""

    channel: str
    status: str  # failed | blocked | skipped, or pending: waiting (a quota, a retry)
    reason: str
    count: int
    first_at: datetime | None = None  # pending: when the first and last of them are tried
    last_at: datetime | None = None


@dataclass(frozen=True)
class Peek:
    """What a sender has to do, as one read saw it."""

    next_due: datetime | None  # the earliest pending row's due time; None: nothing pending
    reclaimable: bool  # rows held by a dead sender
    elsewhere: bool  # rows held by a live sender (another process, or another run)
    finished: list[int] = field(default_factory=list)  # broadcasts with nothing left open
    notify: set[int] = field(default_factory=set)  # those of them with an admin to tell


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


def _of_channel(query: Select[Any], channel: str) -> Select[Any]:
    """`query` over outbox rows, narrowed to the rows of `channel`'s learners."""
    return query.join(Learner, Learner.id == OutboxRow.learner_id).where(Learner.channel == channel)


def _none_open(conn: Connection, broadcast_id: int, channel: str) -> bool:
    """No row of `channel` in this broadcast is pending or being sent. One statement, so one
    snapshot: a row moving between the two states can't be missed in both."""
    query = _of_channel(
        select(OutboxRow.id)
        .where(OutboxRow.broadcast_id == broadcast_id, OutboxRow.status.in_(OPEN))
        .limit(1),
        channel,
    )
    return conn.execute(query).first() is None


def _none_pending(conn: Connection, broadcast_id: int) -> bool:
    query = select(OutboxRow.id).where(
        OutboxRow.broadcast_id == broadcast_id, OutboxRow.status == "pending"
    )
    return conn.execute(query.limit(1)).first() is None


def photo_key(broadcast_id: int, path: str) -> str:
    """Where `media_files` keeps a channel's id for a broadcast's photo: per broadcast, as
    Telegram's is, so a later broadcast never sends an id the platform has since let expire
    (WhatsApp keeps uploaded media for 30 days)."""
    return f"broadcast:{broadcast_id}:{path}"[:512]


def _keep_photo(conn: Connection, channel: str, photo: Uploaded) -> None:
    """Remember the channel's id for a broadcast photo it has just taken."""
    if channel == PHOTO_ON_BROADCAST:
        conn.execute(
            update(Broadcast)
            .where(Broadcast.id == photo.broadcast_id, Broadcast.photo_id.is_(None))
            .values(photo_id=photo.photo_id)
        )
        return
    if photo.digest is None:
        return  # the file could not be read to name its content: this run's memory only
    upsert = insert_or_skip(conn.dialect.name, MediaFile).values(
        channel=channel,
        path=photo_key(photo.broadcast_id, photo.path),
        digest=photo.digest,
        file_id=photo.photo_id,
    )
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["channel", "path"],
            set_={"digest": photo.digest, "file_id": photo.photo_id},
        )
    )


class Outbox:
    def __init__(
        self,
        engine: AsyncEngine,
        channel: str = "telegram",
        reach: Collection[str] | None = None,
    ) -> None:
        """`channel`: whose rows this outbox's sender claims and records (its deliverer's).
        `reach`: the channels a broadcast queued here goes to (those configured to send);
        None: every app. Queuing and the admin's reports cover every channel of `reach`,
        whichever `channel` is."""
        self.engine = engine
        self.channel = channel
        self.reach: tuple[str, ...] = tuple(CHANNELS if reach is None else reach)
        self._reads = for_reading(engine)
        # Broadcasts with no open row of this channel left: never again (see the top).
        self._spent: set[int] = set()

    # -- queuing -------------------------------------------------------------------------------

    def audience(
        self,
        segment: Segment,
        library: Library,
        now: datetime,
        reach: Collection[str] | None = None,
    ) -> Select[Any]:
        """Learners that `segment` reaches (a query, not a list): id, locale, country, channel,
        external id, last activity. The learners on the channels of `reach` (default: this
        outbox's), which are apps; never the terminal's or the demo's."""
        channels = [c for c in (self.reach if reach is None else reach) if c in CHANNELS]
        if segment.channel:
            channels = [c for c in channels if c in segment.channel]
        query: Select[Any] = select(  # type: ignore[assignment]
            Learner.id,
            Learner.locale,
            Learner.country,
            Learner.channel,
            Learner.external_id,
            Learner.last_active_at,
        ).where(
            Learner.channel.in_(channels),
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
        self,
        segment: Segment,
        library: Library,
        now: datetime,
        reach: Collection[str] | None = None,
    ) -> dict[str, int]:
        reached = self.audience(segment, library, now, reach).subquery()
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
        reach: Collection[str] | None = None,
    ) -> int:
        """Record the broadcast and queue every recipient (on the channels of `reach`, by
        default this outbox's), in one transaction. With `draft`, that previewed draft is
        consumed in it too: AlreadyQueued, and nothing queued, if it was consumed before (see
        bot.broadcast.drafts)."""
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
            reached = self.audience(segment, library, now, reach).subquery()
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
        """What there is to do for this channel, read without a write transaction (an idle
        sender's poll takes no write lock on SQLite). `finished` covers every channel: the
        broadcasts with no open row left at all."""
        fresh = naive(wall() - stale)
        channel = self.channel

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
                held = conn.execute(
                    select(OutboxRow.owner, Learner.channel)
                    .join(Learner, Learner.id == OutboxRow.learner_id)
                    .where(OutboxRow.broadcast_id == each, OutboxRow.status == "sending")
                    .distinct()
                ).all()
                first = None
                if each not in self._spent:
                    first = conn.execute(
                        _of_channel(
                            select(OutboxRow.next_attempt_at)
                            .where(OutboxRow.broadcast_id == each, OutboxRow.status == "pending")
                            .order_by(OutboxRow.next_attempt_at)
                            .limit(1),
                            channel,
                        )
                    ).scalar()
                    mine = any(held_by == channel for _, held_by in held)
                    if first is None and not mine and _none_open(conn, each, channel):
                        self._spent.add(each)
                if first is not None and (due_at is None or first < due_at):
                    due_at = first
                for owner, held_by in held:
                    beat = beats.get(owner) if owner is not None else None
                    if beat is None or _gone(*beat):  # none fresh, or its process is gone
                        reclaimable = True  # whichever channel's: reclaim frees them all
                    elif held_by == channel:
                        elsewhere = True
                if not held and first is None and _none_pending(conn, each):
                    finished.append(each)
            notify: set[int] = set()
            if finished:
                notify = set(
                    conn.execute(
                        select(Broadcast.id).where(
                            Broadcast.id.in_(finished), Broadcast.notify_chat.is_not(None)
                        )
                    ).scalars()
                )
            due = due_at.replace(tzinfo=UTC) if due_at else None
            return Peek(due, reclaimable, elsewhere, finished, notify)

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
                if each in self._spent:
                    continue
                # Due order within one broadcast: the index's own order, so LIMIT stops early;
                # the other channels' rows in that range are passed over, not claimed.
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
                        Learner.channel == self.channel,
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
                # A platform's string id (WhatsApp's wamid) goes where its receipts find it.
                "sent_message": r.message_id if isinstance(r.message_id, int) else None,
                "sent_platform": r.message_id if isinstance(r.message_id, str) else None,
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
            for photo in photos:  # so a resumed run sends it without upload
                _keep_photo(conn, channel, photo)
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
                    platform_id=bindparam("sent_platform"),
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
        self, now: datetime, candidates: Sequence[int] | None = None, *, notifying: bool = True
    ) -> list[Broadcast]:
        """Mark broadcasts with nothing left to send as done; return them (for summaries).

        `candidates` are ids a `peek` found finished: without any, nothing is written. Without
        `notifying` (a sender that can't reach the admin desk's chats), broadcasts with an admin
        to tell are left for one that can.
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
            query = select(Broadcast).where(
                Broadcast.id.in_(ids), Broadcast.status == "sending", ~still_open
            )
            if not notifying:
                query = query.where(Broadcast.notify_chat.is_(None))
            done = conn.execute(query).all()
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

    async def counts_by_channel(self, broadcast_id: int) -> dict[str, dict[str, int]]:
        """Rows by channel and status; every status named, for each channel with rows."""
        query = (
            select(Learner.channel, OutboxRow.status, func.count())
            .join(Learner, Learner.id == OutboxRow.learner_id)
            .where(OutboxRow.broadcast_id == broadcast_id)
            .group_by(Learner.channel, OutboxRow.status)
        )
        found: dict[str, dict[str, int]] = {}
        async with self._reads.connect() as conn:
            for channel, status, count in (await conn.execute(query)).all():
                found.setdefault(str(channel), dict.fromkeys(STATUSES, 0))[str(status)] = int(count)
        return dict(sorted(found.items()))

    async def receipts(self, broadcast_id: int) -> dict[str, dict[str, int]]:
        """What the channels that report it (WhatsApp's statuses) said became of the messages
        sent: by channel, the latest receipt (sent, delivered, read, failed) and its count."""
        query = (
            select(Learner.channel, OutboxRow.receipt, func.count())
            .join(Learner, Learner.id == OutboxRow.learner_id)
            .where(OutboxRow.broadcast_id == broadcast_id, OutboxRow.receipt.is_not(None))
            .group_by(Learner.channel, OutboxRow.receipt)
        )
        found: dict[str, dict[str, int]] = {}
        async with self._reads.connect() as conn:
            for channel, receipt, count in (await conn.execute(query)).all():
                found.setdefault(str(channel), {})[str(receipt)] = int(count)
        return dict(sorted(found.items()))

    async def reasons(self, broadcast_id: int) -> list[Reason]:
        """Why rows were not delivered (failed, blocked, skipped) and why pending rows wait (a
        quota, a retry), grouped by channel, status and reason; the most common first."""
        query = (
            select(
                Learner.channel,
                OutboxRow.status,
                OutboxRow.last_error,
                func.count(),
                func.min(OutboxRow.next_attempt_at),
                func.max(OutboxRow.next_attempt_at),
            )
            .join(Learner, Learner.id == OutboxRow.learner_id)
            .where(
                OutboxRow.broadcast_id == broadcast_id,
                OutboxRow.status.in_((*NOT_DELIVERED, "pending")),
            )
            .group_by(Learner.channel, OutboxRow.status, OutboxRow.last_error)
        )
        found: list[Reason] = []
        async with self._reads.connect() as conn:
            for channel, status, error, count, first, last in (await conn.execute(query)).all():
                if status == "pending" and error is None:
                    continue  # not tried yet: nothing to explain
                waiting = status == "pending"
                found.append(
                    Reason(
                        str(channel),
                        str(status),
                        str(error or "unknown"),
                        int(count),
                        first.replace(tzinfo=UTC) if waiting and first else None,
                        last.replace(tzinfo=UTC) if waiting and last else None,
                    )
                )
        return sorted(found, key=lambda r: (-r.count, r.channel, r.status, r.reason))

    async def failure_reasons(self, broadcast_id: int) -> dict[str, int]:
        """Why rows were not delivered, every channel together."""
        query = (
            select(OutboxRow.last_error, func.count())
            .where(OutboxRow.broadcast_id == broadcast_id, OutboxRow.status.in_(NOT_DELIVERED))
            .group_by(OutboxRow.last_error)
        )
        async with self._reads.connect() as conn:
            return {str(r or "unknown"): int(n) for r, n in (await conn.execute(query)).all()}

    async def write_failures(self, broadcast_id: int, out: TextIO) -> int:
        """A CSV of every recipient who didn't get it, and why."""
        query = (
            select(
                Learner.channel,
                Learner.external_id,
                Learner.locale,
                Learner.country,
                OutboxRow.status,
                OutboxRow.attempts,
                OutboxRow.last_error,
            )
            .join(Learner, Learner.id == OutboxRow.learner_id)
            .where(OutboxRow.broadcast_id == broadcast_id, OutboxRow.status.in_(NOT_DELIVERED))
            .order_by(OutboxRow.id)
        )
        writer = csv.writer(out)
        writer.writerow(
            ["channel", "external_id", "locale", "country", "status", "attempts", "reason"]
        )
        count = 0
        async with self._reads.connect() as conn:
            async for row in await conn.stream(query):
                writer.writerow(list(row))
                count += 1
        return count

    async def photo_id(self, broadcast_id: int, path: str, digest: str) -> str | None:
        """This channel's id for the broadcast's photo at `path` with this content, if it took
        it before (Telegram's is on the broadcast row instead: `Broadcast.photo_id`)."""
        query = select(MediaFile.file_id, MediaFile.digest).where(
            MediaFile.channel == self.channel, MediaFile.path == photo_key(broadcast_id, path)
        )
        async with self._reads.connect() as conn:
            row = (await conn.execute(query)).first()
        return str(row[0]) if row is not None and row[1] == digest else None

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
