"""Zalo's token pair, kept in the database so a refresh survives a restart.

An OA access token lives about 25 hours; the refresh token that gets the next pair is spent by
that refresh. The pair a refresh returns must therefore be stored before it is used, where the
web server, the worker and the next start all find it (table `channel_tokens`).

The settings hold the pair an OA admin's authorization gave. The stored pair wins when it
descends from that same pair (its `seed`): it is newer. When the settings hold a different
pair, the admin authorized again, and the settings win and start a new chain.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.db import for_reading, insert_or_skip
from bot.store.models import ChannelToken
from bot.store.writer import write

CHANNEL = "zalo"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: datetime | None  # None: not known (a pair from the settings)


def seed_of(pair: TokenPair) -> str:
    """What identifies the settings' pair without keeping it twice."""
    raw = f"{pair.access_token}\x00{pair.refresh_token}".encode()
    return hashlib.sha256(raw).hexdigest()


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


class TokenStore:
    """The stored pair of one channel, descended from the settings' pair `configured`."""

    def __init__(self, engine: AsyncEngine, configured: TokenPair, channel: str = CHANNEL) -> None:
        self.engine = engine
        self.channel = channel
        self.configured = configured
        self.seed = seed_of(configured)
        self._reads = for_reading(engine)

    async def current(self) -> TokenPair:
        """The newest pair of this chain: the stored one, or the settings' one."""
        query = select(ChannelToken).where(ChannelToken.channel == self.channel)
        async with self._reads.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None or row.seed != self.seed:
            return self.configured
        expires = row.expires_at.replace(tzinfo=UTC) if row.expires_at is not None else None
        return TokenPair(row.access_token, row.refresh_token, expires)

    async def save(self, pair: TokenPair, now: datetime) -> None:
        values = {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_at": _naive(pair.expires_at) if pair.expires_at is not None else None,
            "seed": self.seed,
            "updated_at": _naive(now),
        }
        statement = insert_or_skip(self.engine.dialect.name, ChannelToken).values(
            channel=self.channel, **values
        )
        await write(
            self.engine, statement.on_conflict_do_update(index_elements=["channel"], set_=values)
        )
