"""Admin and author roles, and the audit log of what admins do.

Roles are keyed by the channel's user id, never a username. `ADMIN_IDS` is the source of truth
for the admins it grants: at every start its ids are granted, and the admins it granted before
but no longer lists are revoked. Roles granted with `lessonbot admins grant` stay until
`lessonbot admins revoke`. Every grant and revocation is in the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.learners import db_time
from bot.store.models import AuditEntry, Role

FROM_SETTINGS = "ADMIN_IDS"  # `granted_by` of the roles ADMIN_IDS grants


async def audit(
    conn: AsyncConnection, actor: str, action: str, detail: dict[str, Any], now: datetime
) -> None:
    """Append to the audit log, in the caller's transaction (with the change it records)."""
    await conn.execute(
        insert(AuditEntry).values(
            actor=actor, action=action, detail=detail, created_at=db_time(now)
        )
    )


@dataclass(frozen=True)
class Grant:
    external_id: str
    role: str
    granted_by: str
    granted_at: datetime


class Roles:
    def __init__(self, engine: AsyncEngine, channel: str = "telegram") -> None:
        self.engine = engine
        self.channel = channel

    async def bootstrap(self, admin_ids: Iterable[int], now: datetime) -> None:
        """Make ADMIN_IDS's admins exactly the ids it lists now (others' grants are kept)."""
        wanted = {str(admin) for admin in admin_ids}
        async with self.engine.begin() as conn:
            have = {
                str(external_id): str(granted_by)
                for external_id, granted_by in await conn.execute(
                    select(Role.external_id, Role.granted_by).where(
                        Role.channel == self.channel, Role.role == "admin"
                    )
                )
            }
            for admin in sorted(wanted - have.keys()):
                await self._grant(conn, admin, "admin", FROM_SETTINGS, now)
            for admin, granted_by in sorted(have.items()):
                if granted_by == FROM_SETTINGS and admin not in wanted:
                    await self._revoke(conn, admin, "admin", FROM_SETTINGS, now)

    async def grant(self, external_id: str, actor: str, now: datetime, role: str = "admin") -> bool:
        """Grant `role`; False if they had it. A grant by hand outlives ADMIN_IDS: it becomes
        the actor's, so a later change of ADMIN_IDS no longer revokes it."""
        async with self.engine.begin() as conn:
            changed = await conn.execute(
                update(Role)
                .where(*self._key(external_id, role), Role.granted_by == FROM_SETTINGS)
                .values(granted_by=actor)
            )
            if changed.rowcount:
                await audit(conn, actor, "role.grant", self._detail(external_id, role), now)
                return True
            if await conn.scalar(select(Role.role).where(*self._key(external_id, role))):
                return False
            await self._grant(conn, external_id, role, actor, now)
            return True

    async def revoke(
        self, external_id: str, actor: str, now: datetime, role: str = "admin"
    ) -> bool:
        """Take `role` away; False if they did not have it."""
        async with self.engine.begin() as conn:
            return await self._revoke(conn, external_id, role, actor, now)

    async def grants(self) -> list[Grant]:
        query = (
            select(Role.external_id, Role.role, Role.granted_by, Role.granted_at)
            .where(Role.channel == self.channel)
            .order_by(Role.role, Role.external_id)
        )
        async with self.engine.connect() as conn:
            return [Grant(*row) for row in await conn.execute(query)]

    async def has(self, external_id: str, role: str = "admin") -> bool:
        async with self.engine.connect() as conn:
            found = await conn.scalar(select(Role.role).where(*self._key(external_id, role)))
        return found is not None

    def _key(self, external_id: str, role: str) -> tuple[Any, ...]:
        return (Role.channel == self.channel, Role.external_id == external_id, Role.role == role)

    def _detail(self, external_id: str, role: str) -> dict[str, Any]:
        return {"channel": self.channel, "user": external_id, "role": role}

    async def _grant(
        self, conn: AsyncConnection, external_id: str, role: str, actor: str, now: datetime
    ) -> None:
        await conn.execute(
            insert(Role).values(
                channel=self.channel,
                external_id=external_id,
                role=role,
                granted_by=actor,
                granted_at=db_time(now),
            )
        )
        await audit(conn, actor, "role.grant", self._detail(external_id, role), now)

    async def _revoke(
        self, conn: AsyncConnection, external_id: str, role: str, actor: str, now: datetime
    ) -> bool:
        gone = await conn.execute(delete(Role).where(*self._key(external_id, role)))
        if not gone.rowcount:
            return False
        await audit(conn, actor, "role.revoke", self._detail(external_id, role), now)
        return True
