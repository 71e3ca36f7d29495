"""Write jobs: many learners' updates commit together, and a failing one fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import StoreError
from bot.store import create_engine
from bot.store.models import MediaFile
from bot.store.writer import _writer_for, transact
from tests.databases import rows, sqlite_only


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def remember(path: str) -> Callable[[Connection], str]:
    def job(conn: Connection) -> str:
        conn.execute(insert(MediaFile).values(channel="t", path=path, digest="d", file_id="f"))
        return path

    return job


def broken(conn: Connection) -> None:
    conn.execute(insert(MediaFile).values(channel="t", path="half", digest="d", file_id="f"))
    raise ValueError("a bug in the middle of a job")


async def test_a_failing_job_fails_alone_and_leaves_nothing_behind(
    engine: AsyncEngine, database_url: str
) -> None:
    jobs: list[Callable[[Connection], object]] = [remember(f"p{i}") for i in range(10)]
    jobs.insert(5, broken)
    outcomes = await asyncio.gather(
        *(transact(engine, job) for job in jobs), return_exceptions=True
    )
    assert isinstance(outcomes[5], ValueError)
    assert [o for i, o in enumerate(outcomes) if i != 5] == [f"p{i}" for i in range(10)]
    stored = await rows(database_url, "SELECT path FROM media_files ORDER BY path")
    assert sorted(p for (p,) in stored) == sorted(f"p{i}" for i in range(10))  # no "half"


async def test_a_database_error_is_a_store_error(engine: AsyncEngine) -> None:
    await transact(engine, remember("once"))
    with pytest.raises(StoreError):
        await transact(engine, remember("once"))  # the same key again


@sqlite_only
async def test_jobs_that_arrive_together_share_one_transaction(engine: AsyncEngine) -> None:
    await transact(engine, lambda conn: conn.execute(text("SELECT 1")))  # start the writer
    begins: list[Connection] = []
    count = begins.append
    writer_engine = _writer_for(engine)._engine
    event.listen(writer_engine, "begin", count)
    try:
        await asyncio.gather(*(transact(engine, remember(f"g{i}")) for i in range(50)))
    finally:
        event.remove(writer_engine, "begin", count)
    assert 1 <= len(begins) < 50  # fifty jobs, far fewer transactions
