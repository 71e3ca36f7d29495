"""The database misbehaving under the bot: a PostgreSQL connection dropped in the middle of a
learner's transaction, and SQLite writers contending for its one lock."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from bot.engine import Command, Start, Text
from bot.i18n import Catalogs
from bot.service import SORRY, LessonService
from bot.store import Identity, LearnerStore, create_engine
from tests.databases import needs_postgres, rows, saved_step, sqlite_only

ANA = Identity("test", "1", first_name="Ana")


@pytest.fixture
async def service(tmp_path: Path, library: Any, database_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    catalogs = Catalogs(tmp_path / "no-locales")
    yield LessonService(library, LearnerStore(engine), catalogs, catalogs.languages())
    await engine.dispose()


@needs_postgres
async def test_connection_dropped_mid_transaction(
    service: LessonService, database_url: str
) -> None:
    await service.handle(ANA, Start("online-safety"))
    await service.handle(ANA, Text("Start learning"))
    before = await saved_step(database_url, ANA.external_id)
    armed = {"on": True}

    @event.listens_for(service.store.engine.sync_engine, "before_cursor_execute")
    def drop(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # The server ends this session half-way through the learner's update (after the
        # learner row was read and locked, before the events are written).
        if armed["on"] and statement.startswith("INSERT INTO events"):
            armed["on"] = False
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    replies = await service.handle(ANA, Text("1"))
    assert [r.text for r in replies] == [SORRY]
    # Rolled back: nothing half-saved.
    assert await saved_step(database_url, ANA.external_id) == before
    [(events,)] = await rows(database_url, "SELECT count(*) FROM events")
    replies = await service.handle(ANA, Command("continue"))  # a new connection, and on
    assert replies and replies[0].text != SORRY
    replies = await service.handle(ANA, Text("1"))
    assert await saved_step(database_url, ANA.external_id) != before
    [(after,)] = await rows(database_url, "SELECT count(*) FROM events")
    assert after > events


@sqlite_only
async def test_sqlite_writers_from_two_engines_wait_instead_of_failing(
    library: Any, database_url: str, tmp_path: Path
) -> None:
    """Two engines (as two processes would have) write at once; SQLite has one writer, so
    one waits for the lock (busy timeout) rather than failing with "database is locked"."""
    catalogs = Catalogs(tmp_path / "no-locales")
    engines = [create_engine(database_url) for _ in range(2)]
    services = [
        LessonService(library, LearnerStore(e), catalogs, catalogs.languages()) for e in engines
    ]
    # A third connection holds the write lock for a moment while both services write.
    blocker = create_engine(database_url)
    async with blocker.begin() as conn:
        await conn.execute(text("UPDATE learners SET locale = locale"))
        pending = [
            asyncio.ensure_future(
                s.handle(Identity("test", str(n), first_name="P"), Start("online-safety"))
            )
            for n, s in enumerate(services * 10)
        ]
        await asyncio.sleep(0.5)
    replies = await asyncio.gather(*pending)
    assert all(r and r[0].text != SORRY for r in replies)
    assert await rows(database_url, "SELECT count(*) FROM learners") == [(20,)]
    for engine in (*engines, blocker):
        await engine.dispose()
