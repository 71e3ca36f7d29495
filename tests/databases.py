"""The database each test runs on: a SQLite file, or a fresh PostgreSQL database when
TEST_DATABASE_URL is set (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test).

Each test gets its own database, migrated as the release step would (`lessonbot db upgrade`),
so tests never see each other's rows and can run the real product's processes against it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store import create_engine, upgrade

SERVER = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = SERVER.startswith("postgresql")

needs_postgres = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="needs PostgreSQL: set TEST_DATABASE_URL=postgresql+asyncpg://"
    "postgres@127.0.0.1:5432/test (.ci/run does)",
)
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="about SQLite itself")


@asynccontextmanager
async def fresh_database(tmp_path: Path, server: str = SERVER) -> AsyncIterator[str]:
    """A new, migrated, empty database; dropped afterwards on PostgreSQL.

    `server`: a PostgreSQL URL to create the database on; empty for a SQLite file.
    """
    if not server.startswith("postgresql"):
        url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        await _migrate(url)
        yield url
        return
    name = f"lessonbot_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        await _migrate(url)
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()


async def saved_step(url: str, external_id: str) -> str | None:
    """The step a learner's saved state is on (the JSON column reads back as text on SQLite)."""
    [(state,)] = await rows(
        url, "SELECT state FROM learners WHERE external_id = :id", id=external_id
    )
    position = (state if isinstance(state, dict) else json.loads(state)).get("position")
    return str(position["step"]) if position else None


async def rows(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Read the database directly, to check what the product stored."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]
    finally:
        await engine.dispose()
