"""The durable reply outbox: a learner's replies are stored with their progress, sent after.

`stage` runs inside the learner's transaction, so the replies commit with the progress that
caused them, or not at all. The process that handled the update sends them right after the
commit, oldest first, and deletes each as it is delivered. A learner's next send waits until
their last delivery is recorded, so a crash can resend to each learner at most the one send
that was on the wire to them, or had just arrived (docs/performance.md, "What a kill costs").
A reply its process could not send (it died, or the platform said 429) is due again at
`due_at`, for any process's relay to send.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.engine import Say
from bot.engine.outputs import Button, Media
from bot.store.db import for_reading
from bot.store.models import PendingReply
from bot.store.prepared import Prepared
from bot.store.processes import HOST, pid_gone
from bot.store.writer import transact, write

log = logging.getLogger(__name__)

Recipient = tuple[str, str]  # (channel, address): a learner on one app

# How long the process that stored a reply has to send it before a process that cannot tell
# whether it lives (one on another machine) may: longer than a send can take (the frameworks
# wait 60 s for an answer). A process on the same machine that finds the owner dead takes its
# replies at once.
GRACE = timedelta(seconds=90)
# This process, as "host:pid:start": a restarted container often has the same host and pid.
PROCESS = f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_alive(owner: str | None) -> bool:
    """Whether the process that stored a reply may still be sending it."""
    if owner is None:
        return False  # deferred: whoever finds it due sends it
    if owner == PROCESS:
        return True
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host == HOST and pid == str(os.getpid()):
        return False  # our pid, but an earlier start of it (a restarted container)
    return not (pid.isdigit() and pid_gone(host, int(pid)))


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


@dataclass(frozen=True)
class MadeLater:
    """A reply drawn only when it is sent, from what the transaction stored (a certificate)."""

    certificate: str  # its code


Staged = Say | MadeLater


def encode(message: Staged) -> dict[str, Any]:
    if isinstance(message, MadeLater):
        return {"certificate": message.certificate}
    payload: dict[str, Any] = {"text": message.text}
    if message.buttons:
        payload["buttons"] = [[[b.label, b.token, b.means] for b in row] for row in message.buttons]
    if message.media is not None:
        media = message.media
        payload["media"] = {"kind": media.kind, "path": media.path}
        if media.data is not None:
            payload["media"]["data"] = base64.b64encode(media.data).decode()
    return payload


def decode(payload: dict[str, Any]) -> Staged:
    if "certificate" in payload:
        return MadeLater(str(payload["certificate"]))
    buttons = tuple(
        tuple(Button(str(label), str(token), means) for label, token, means in row)
        for row in payload.get("buttons", ())
    )
    media = None
    if found := payload.get("media"):
        data = base64.b64decode(found["data"]) if "data" in found else None
        media = Media(found["kind"], found["path"], data)
    return Say(str(payload["text"]), buttons, media)


@dataclass(frozen=True)
class Pending:
    id: int
    message: Staged
    attempts: int
    due_at: datetime
    owner: str | None = PROCESS

    def sendable(self, now: datetime) -> bool:
        """This process may send it now: its own, or due, or its owner is gone."""
        return self.owner == PROCESS or self.due_at <= now or not owner_alive(self.owner)

    def elsewhere(self, now: datetime) -> bool:
        """Another live process stored it and is sending it: not ours, and nothing to wait
        for (replies are in order per process; two processes' replies to one learner race
        as their updates did)."""
        return self.owner not in (None, PROCESS) and not self.sendable(now)


# Run for every reply (see bot.store.prepared).
_STAGE = Prepared(insert(PendingReply).returning(PendingReply.id))
_DELIVERED = Prepared(delete(PendingReply).where(PendingReply.id == bindparam("id")))


def stage(
    conn: Connection, channel: str, address: str, messages: list[Staged], now: datetime
) -> list[Pending]:
    """Store replies inside the caller's transaction (one multi-row INSERT); returns them as
    stored, for the caller to send once the transaction commits."""
    if not messages:
        return []
    now = _naive(now)
    due = now + GRACE
    stored = []
    for message in messages:  # one by one: each returns its id, in order, on every database
        rows = _STAGE.execute(
            conn,
            {
                "channel": channel,
                "address": address,
                "payload": encode(message),
                "attempts": 0,
                "owner": PROCESS,
                "due_at": due,
                "created_at": now,
            },
        )
        stored.append(Pending(rows[0][0], message, 0, due.replace(tzinfo=UTC)))
    return stored


class Replies:
    """The outbox's queries. Deliveries are recorded in groups: ids delivered within a few
    milliseconds of each other are deleted in one transaction, so recording costs far less
    than one write per reply; a crash can then resend only the replies of that last tick, and
    `recorded` keeps that to one send per learner."""

    def __init__(self, engine: AsyncEngine, tick: float = 0.005) -> None:
        self.engine = engine
        self._reads = for_reading(engine)
        self._tick = tick
        self._delivered: dict[int, Recipient] = {}  # sent, not yet deleted; to whom
        self._unrecorded: Counter[Recipient] = Counter()  # of those, how many to each learner
        self._batch = asyncio.Event()  # set when the deletes under way commit
        # Sent and deleted, remembered a while: a read that began before the delete committed
        # may still return them, and must not send them again.
        self._forgotten: set[int] = set()
        self._forgetting: deque[tuple[float, set[int]]] = deque()  # when each batch went
        # Learners with older replies still waiting (a 429's pause, a crash): a new reply must
        # go out after them, so theirs are read back; everyone else's are sent as staged.
        self._backlog: set[tuple[str, str]] = set()
        self._recording: asyncio.Task[None] | None = None

    def waiting(self, channel: str, address: str) -> bool:
        return (channel, address) in self._backlog

    def caught_up(self, channel: str, address: str, caught_up: bool) -> None:
        """After a flush: whether everything to this learner went out."""
        if caught_up:
            self._backlog.discard((channel, address))
        else:
            self._backlog.add((channel, address))

    async def load_backlog(self) -> None:
        """At start: whoever a previous process left replies for."""
        query = select(PendingReply.channel, PendingReply.address).distinct()
        async with self._reads.connect() as conn:
            self._backlog |= {(str(c), str(a)) for c, a in (await conn.execute(query)).all()}

    async def pending(self, channel: str, address: str) -> list[Pending]:
        query = (
            select(
                PendingReply.id,
                PendingReply.payload,
                PendingReply.attempts,
                PendingReply.due_at,
                PendingReply.owner,
            )
            .where(PendingReply.channel == channel, PendingReply.address == address)
            .order_by(PendingReply.id)
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Pending(row_id, decode(payload), attempts, due.replace(tzinfo=UTC), owner)
            for row_id, payload, attempts, due, owner in rows
            if row_id not in self._delivered and row_id not in self._forgotten
        ]

    def delivered(self, reply_id: int, recipient: Recipient) -> None:
        """Record a delivery (or a reply dropped): deleted with the others of this tick."""
        if reply_id not in self._delivered:
            self._delivered[reply_id] = recipient
            self._unrecorded[recipient] += 1
        if self._recording is None or self._recording.done():
            self._recording = asyncio.create_task(self._record())

    async def recorded(self, recipient: Recipient) -> None:
        """Wait until what was delivered to `recipient` is recorded. Sending to them only then
        means a crash can't catch two of their sends unrecorded (the last tick's, and the one
        on the wire), however long a busy database takes to commit the tick."""
        while self._unrecorded[recipient]:
            await self._batch.wait()

    async def _record(self) -> None:
        await asyncio.sleep(self._tick)
        while self._delivered:
            ids = set(self._delivered)
            rows = [{"id": reply_id} for reply_id in ids]
            batch = self._batch
            try:
                await transact(self.engine, partial(_DELIVERED.execute_many, rows=rows))
            except Exception:
                # Kept in memory, so this process never sends them again; tried again shortly.
                log.exception("could not record %d delivered replies; trying again", len(ids))
                await asyncio.sleep(1)
                continue
            for reply_id in ids:
                recipient = self._delivered.pop(reply_id)
                self._unrecorded[recipient] -= 1
                if not self._unrecorded[recipient]:
                    del self._unrecorded[recipient]
            self._batch = asyncio.Event()
            batch.set()
            now = time.monotonic()
            self._forgotten |= ids
            self._forgetting.append((now, ids))
            while self._forgetting and now - self._forgetting[0][0] > 60:  # no read is that old
                self._forgotten -= self._forgetting.popleft()[1]

    async def drain(self) -> None:
        """Wait until every delivery so far is recorded (a clean stop resends nothing)."""
        if self._recording is not None:
            await self._recording

    async def defer(self, reply_id: int, until: datetime, attempts: int, error: str) -> None:
        statement = (
            update(PendingReply)
            .where(PendingReply.id == reply_id)
            .values(due_at=_naive(until), attempts=attempts, last_error=error[:300], owner=None)
        )
        await write(self.engine, statement)

    async def drop_all(self, channel: str, address: str) -> None:
        """The learner can't be reached (they blocked the bot): nothing left is worth sending."""
        statement = delete(PendingReply).where(
            PendingReply.channel == channel, PendingReply.address == address
        )
        await write(self.engine, statement)

    async def due(self, now: datetime) -> list[tuple[str, str]]:
        """Learners (channel, address) with a reply this process should send: one that is due,
        or one whose owner died. A read, so an idle relay writes nothing."""
        query = select(
            PendingReply.channel, PendingReply.address, PendingReply.owner, PendingReply.due_at
        ).where(
            (PendingReply.due_at <= _naive(now))
            | (PendingReply.owner.is_not(None) & (PendingReply.owner != PROCESS))
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(query)).all()
        found = {
            (str(channel), str(address))
            for channel, address, owner, due in rows
            if due <= _naive(now) or not owner_alive(owner)
        }
        return sorted(found)
