"""What channels with a free-messaging window need from the store.

- When each learner last wrote (`Learner.last_active_at`, set by every update they send) and
  their locale: whether a free-form message may go out, and in which language a template.
- Counted messages sent outside the free path (`template_sends`): WhatsApp's messaging tier
  counts the distinct users a number sent templates to in a rolling 24 h, and Zalo's monthly
  allowance the proactive messages, across every process of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.db import for_reading
from bot.store.models import Learner, OutboxRow, TemplateSend
from bot.store.writer import write

DAY = timedelta(hours=24)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class LastHeard:
    at: datetime | None  # when the learner last wrote; None for someone we don't know
    locale: str


@dataclass(frozen=True)
class TierUse:
    users: int  # distinct users sent a template in the last 24 h
    includes: bool  # the one about to get another is among them (no new user counted)
    frees_at: datetime | None  # when the oldest of them leaves the 24 h


class Windows:
    def __init__(self, engine: AsyncEngine, channel: str) -> None:
        self.engine = engine
        self.channel = channel
        self._reads = for_reading(engine)

    async def last_heard(self, address: str) -> LastHeard:
        query = select(Learner.last_active_at, Learner.locale).where(
            Learner.channel == self.channel, Learner.external_id == address
        )
        async with self._reads.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return LastHeard(None, "")
        return LastHeard(row[0].replace(tzinfo=UTC), str(row[1]))

    async def tier_use(self, address: str, now: datetime) -> TierUse:
        since = _naive(now - DAY)
        recent = (TemplateSend.channel == self.channel) & (TemplateSend.sent_at > since)
        count = select(
            func.count(func.distinct(TemplateSend.address)), func.min(TemplateSend.sent_at)
        )
        mine = select(TemplateSend.id).where(recent, TemplateSend.address == address).limit(1)
        async with self._reads.connect() as conn:
            users, oldest = (await conn.execute(count.where(recent))).one()
            includes = (await conn.execute(mine)).first() is not None
        frees_at = oldest.replace(tzinfo=UTC) + DAY if oldest is not None else None
        return TierUse(int(users), includes, frees_at)

    async def sent_since(self, since: datetime) -> int:
        """Counted messages (templates, proactive messages) the channel sent since `since`."""
        query = select(func.count()).where(
            TemplateSend.channel == self.channel, TemplateSend.sent_at >= _naive(since)
        )
        async with self._reads.connect() as conn:
            return int((await conn.execute(query)).scalar() or 0)

    async def record_template(
        self, address: str, purpose: str, template: str, category: str, now: datetime
    ) -> None:
        await write(
            self.engine,
            insert(TemplateSend).values(
                channel=self.channel,
                address=address,
                purpose=purpose,
                template=template,
                category=category,
                sent_at=_naive(now),
            ),
        )

    async def record_receipt(self, platform_id: str, status: str, error: str | None) -> None:
        """A status from the channel's webhook on a broadcast message: delivered, read, or
        failed with its reason. Receipts only move forward (a late "delivered" after "read"
        is ignored); a failure marks the row failed, with the reason, for the admin."""
        order = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}
        rank = order.get(status, 0)
        if not rank:
            return
        earlier = [name for name, n in order.items() if n < rank]
        values: dict[str, object] = {"receipt": status}
        if status == "failed":
            values |= {"status": "failed", "last_error": (error or "failed")[:300]}
        statement = (
            update(OutboxRow)
            .where(
                OutboxRow.platform_id == platform_id,
                OutboxRow.receipt.is_(None) | OutboxRow.receipt.in_(earlier),
            )
            .values(**values)
        )
        await write(self.engine, statement)
