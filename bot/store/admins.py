"""Admin and author roles, bootstrapped from ADMIN_IDS (Telegram user ids, never usernames)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.learners import db_time
from bot.store.models import Role


class Roles:
    def __init__(self, engine: AsyncEngine, channel: str = "telegram") -> None:
        self.engine = engine
        self.channel = channel

    async def bootstrap(self, admin_ids: Iterable[int], now: datetime) -> None:
        """Make sure everyone in ADMIN_IDS is an admin (nobody is removed here)."""
        async with self.engine.begin() as conn:
            have = set(
                (
                    await conn.execute(
                        select(Role.external_id).where(
                            Role.channel == self.channel, Role.role == "admin"
                        )
                    )
                ).scalars()
            )
            for admin in admin_ids:
                if str(admin) not in have:
                    await conn.execute(
                        insert(Role).values(
                            channel=self.channel,
                            external_id=str(admin),
                            role="admin",
                            granted_by="ADMIN_IDS",
                            granted_at=db_time(now),
                        )
                    )

    async def has(self, external_id: str, role: str = "admin") -> bool:
        async with self.engine.connect() as conn:
            found = (
                await conn.execute(
                    select(Role.role).where(
                        Role.channel == self.channel,
                        Role.external_id == external_id,
                        Role.role == role,
                    )
                )
            ).first()
        return found is not None
