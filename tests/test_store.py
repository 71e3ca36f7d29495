"""The store on a real SQLite file: migrations, one transaction per update, no lost updates."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from bot.engine import Command, Press, Say, Start, Text
from bot.i18n import Catalogs
from bot.service import NOT_SAVED, LessonService
from bot.store import Identity, LearnerStore, create_engine, upgrade
from bot.store.db import MIGRATIONS, current_revision
from bot.store.models import AnswerRecord, Base, EventRecord, LessonProgress
from tests.databases import sqlite_only


@pytest.fixture
async def service(tmp_path: Path, library: Any, database_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    await upgrade(engine)
    catalogs = Catalogs(tmp_path / "no-locales")
    yield LessonService(library, LearnerStore(engine), catalogs, catalogs.languages())
    await engine.dispose()


ANA = Identity("test", "1", first_name="Ana")


async def begin(service: LessonService, who: Identity, course: str) -> list[Say]:
    """A new learner's deep link to `course`: past the notice, into the lesson."""
    await service.handle(who, Start(course))
    return await service.handle(who, Text("Start learning"))


async def test_migrations_reach_head_and_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)  # again: idempotent
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head and await current_revision(engine) == head

    def differences(conn: Any) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(differences) == []  # a model change needs a migration
    await engine.dispose()


@sqlite_only
async def test_migrations_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    await upgrade(engine)  # idempotent
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head and await current_revision(engine) == head
    await engine.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert {"learners", "progress", "answers", "events", "alembic_version"} <= tables


async def test_progress_survives_a_new_service(service: LessonService, library: Any) -> None:
    await begin(service, ANA, "online-safety")
    await service.handle(ANA, Text("1"))
    fresh = LessonService(
        library, LearnerStore(service.store.engine), service.texts, service.languages
    )
    replies = await fresh.handle(ANA, Command("continue"))
    first = await begin(service, Identity("test", "2", first_name="Bo"), "online-safety")
    second_step = await service.handle(Identity("test", "2", first_name="Bo"), Text("1"))
    assert replies[0].text == second_step[0].text != first[-1].text


async def test_answers_progress_and_events_are_recorded(service: LessonService) -> None:
    case = yaml.safe_load((Path(__file__).parent / "golden/spot-the-scam.clicked.yaml").read_text())
    await begin(service, ANA, "online-safety")
    for line in map(str, case["inputs"][1:]):
        await service.handle(ANA, Text(line))
    async with service.store.engine.connect() as conn:
        done = (await conn.execute(select(LessonProgress.status))).scalars().all()
        answers = (await conn.execute(select(func.count()).select_from(AnswerRecord))).scalar()
        names = set((await conn.execute(select(EventRecord.name))).scalars())
    assert done == ["completed"]
    assert answers and answers >= 3
    assert {"lesson_started", "step_shown", "answer_given", "lesson_completed"} <= names


async def test_quick_double_press_is_handled_once_in_order(service: LessonService) -> None:
    replies = await begin(service, ANA, "online-safety")
    token = replies[-1].buttons[0][0].token
    first, second = await asyncio.gather(
        service.handle(ANA, Press(token)), service.handle(ANA, Press(token))
    )
    # One press moved on; the other found the button stale and re-showed the new step.
    stale = [r for r in (first, second) if "earlier message" in r[0].text]
    assert len(stale) == 1
    async with service.store.engine.connect() as conn:
        shown = (
            await conn.execute(
                select(func.count())
                .select_from(EventRecord)
                .where(EventRecord.name == "step_shown")
            )
        ).scalar()
    assert shown == 2  # the first step and the one after it, not three


async def test_many_learners_concurrently_no_lost_update(service: LessonService) -> None:
    people = [Identity("test", str(i), first_name=f"P{i}") for i in range(30)]
    await asyncio.gather(*(begin(service, p, "online-safety") for p in people))
    for _ in range(3):
        await asyncio.gather(*(service.handle(p, Text("1")) for p in people))
    async with service.store.engine.connect() as conn:
        shown = (
            await conn.execute(
                select(func.count())
                .select_from(EventRecord)
                .where(EventRecord.name == "step_shown")
            )
        ).scalar()
    assert shown == 30 * 4


async def test_database_failure_is_apologised_for_and_rolled_back(service: LessonService) -> None:
    await begin(service, ANA, "online-safety")
    events = Base.metadata.tables["events"]
    async with service.store.engine.begin() as conn:
        await conn.run_sync(events.drop)  # every update writes an event, so this must fail
    replies = await service.handle(ANA, Text("1"))
    assert [r.text for r in replies] == [NOT_SAVED]
    async with service.store.engine.begin() as conn:
        await conn.run_sync(events.create)
    replies = await service.handle(ANA, Command("continue"))
    assert "Hi Ana" in replies[0].text  # still on the first step: nothing half-saved
