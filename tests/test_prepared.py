"""Prepared statements store and read back exactly what Core would, on every database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import StoreError
from bot.store import create_engine
from bot.store.models import EventRecord, InboxUpdate
from bot.store.prepared import Prepared
from bot.store.writer import transact

MOMENT = datetime(2026, 12, 2, 6, 30, 0)  # no microseconds: a format that drops them shows
LATER = datetime(2026, 12, 2, 6, 30, 0, 123456)
EVENTS = EventRecord.__table__


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def _event(name: str, data: dict[str, object], when: datetime) -> dict[str, object]:
    return {
        "learner_id": None,
        "name": name,
        "course": "c",
        "lesson": "l",
        "step": "s",
        "data": data,
        "created_at": when,
    }


async def test_values_round_trip_as_core_stores_them(engine: AsyncEngine) -> None:
    prepared = Prepared(insert(EventRecord))
    rows = [_event("a", {"n": 1, "ok": True}, MOMENT), _event("b", {"ä": "ខ្មែរ"}, LATER)]
    await transact(engine, lambda conn: prepared.execute_many(conn, rows))
    await transact(engine, lambda conn: conn.execute(insert(EventRecord), [_event("c", {}, LATER)]))

    read = Prepared(select(EVENTS.c.name, EVENTS.c.data, EVENTS.c.created_at).order_by("name"))
    got = await transact(engine, lambda conn: read.execute(conn, {}))
    assert got == [
        ("a", {"n": 1, "ok": True}, MOMENT),
        ("b", {"ä": "ខ្មែរ"}, LATER),
        ("c", {}, LATER),
    ]

    # What Core reads of rows written here is the same, byte for byte through its types.
    core = select(EVENTS.c.name, EVENTS.c.data, EVENTS.c.created_at).order_by("name")
    by_core = await transact(engine, lambda conn: [tuple(r) for r in conn.execute(core)])
    assert by_core == got
    # And comparisons in SQL see one format: the moment without microseconds sorts first.
    earlier = select(EVENTS.c.name).where(EVENTS.c.created_at < LATER)
    assert await transact(engine, lambda conn: conn.execute(earlier).scalars().all()) == ["a"]


async def test_returning_rowcount_and_fixed_values(engine: AsyncEngine) -> None:
    add = Prepared(insert(InboxUpdate).returning(InboxUpdate.id))
    row = {"key": "t:1", "channel": "t", "payload": {}, "status": "pending", "received_at": MOMENT}
    [(first,)] = await transact(engine, lambda conn: add.execute(conn, row))
    [(second,)] = await transact(engine, lambda conn: add.execute(conn, {**row, "key": "t:2"}))
    assert second > first

    done = Prepared(
        update(InboxUpdate)
        .where(InboxUpdate.key == bindparam("which"), InboxUpdate.status == "pending")
        .values(status="done")  # a value the statement carries, not the caller
    )
    assert await transact(engine, lambda conn: done.rowcount(conn, {"which": "t:1"})) == 1
    assert await transact(engine, lambda conn: done.rowcount(conn, {"which": "t:1"})) == 0
    assert await transact(engine, lambda conn: done.rowcount(conn, {"which": "nope"})) == 0


async def test_a_driver_error_is_a_store_error_and_saves_nothing(engine: AsyncEngine) -> None:
    add = Prepared(insert(InboxUpdate))
    row = {"key": "t:9", "channel": "t", "payload": {}, "status": "pending", "received_at": MOMENT}
    await transact(engine, lambda conn: add.execute(conn, row))
    # The unique key: the driver's error is SQLAlchemy's, which the writer reports as ours.
    with pytest.raises(StoreError, match=r"(?i)unique"):
        await transact(engine, lambda conn: add.execute(conn, row))
    count = select(InboxUpdate.id)
    assert len(await transact(engine, lambda conn: conn.execute(count).all())) == 1


async def test_what_cannot_be_prepared_is_refused_clearly(engine: AsyncEngine) -> None:
    many = Prepared(delete(InboxUpdate).where(InboxUpdate.id.in_(bindparam("ids", expanding=True))))
    with pytest.raises(TypeError, match="expanding"):
        await transact(engine, lambda conn: many.rowcount(conn, {"ids": [1, 2]}))
    # A column left to its Python-side default would silently get NULL: refused instead.
    row = _event("d", {}, MOMENT)
    del row["course"]
    with pytest.raises(TypeError, match="course"):
        await transact(engine, lambda conn: Prepared(insert(EventRecord)).rowcount(conn, row))
