"""Migrations the Alembic way: every revision goes down and up again on a real database, the
`alembic` command works from the repository root on the bot's DATABASE_URL, and `lessonbot db`
upgrades, downgrades and reports the revision.

The database is the suite's (tests/databases.py): SQLite, or PostgreSQL when TEST_DATABASE_URL is
set.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, text

from bot.cli import main
from bot.store import create_engine, upgrade
from bot.store.db import MIGRATIONS, current_revision, downgrade
from bot.store.models import Base, Learner, LessonProgress
from tests.databases import rows, sqlite_only

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ScriptDirectory(str(MIGRATIONS))
HEAD = SCRIPTS.get_current_head()
# Oldest first: 0001, 0002, ...
REVISIONS = [script.revision for script in reversed(list(SCRIPTS.walk_revisions()))]


def alembic(url: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The real `alembic` command, run where a developer runs it, on the bot's DATABASE_URL."""
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def drift(url: str) -> list[Any]:
    """What autogenerate would change to make the database match bot/store/models.py."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: list(compare_metadata(MigrationContext.configure(sync), Base.metadata))
            )
    finally:
        await engine.dispose()


async def add_learner_with_progress(url: str) -> None:
    now = datetime(2026, 1, 5, 9, 0)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(Learner).values(
                    id=1,
                    channel="test",
                    external_id="1",
                    first_name="Ana",
                    created_at=now,
                    last_active_at=now,
                )
            )
            await conn.execute(
                insert(LessonProgress).values(
                    learner_id=1,
                    course="online-safety",
                    lesson="spot-the-scam",
                    status="started",
                    started_at=now,
                )
            )
    finally:
        await engine.dispose()


def test_the_revisions_are_one_numbered_line() -> None:
    numbered = [f"{n:04d}" for n in range(1, len(REVISIONS) + 1)]
    assert numbered == REVISIONS
    assert REVISIONS[-1] == HEAD


async def test_every_revision_goes_down_and_up_again(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) == HEAD
        for below in [*reversed(REVISIONS[:-1]), None]:  # one step at a time
            await downgrade(engine, "-1")
            assert await current_revision(engine) == below
        assert await tables(database_url) <= {"alembic_version"}
        for revision in REVISIONS:
            await upgrade(engine, "+1")
            assert await current_revision(engine) == revision
        await downgrade(engine, "base")  # and all the way in one go
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == HEAD
    finally:
        await engine.dispose()
    assert await drift(database_url) == []


async def test_migrations_keep_the_rows_of_tables_they_do_not_drop(database_url: str) -> None:
    # On SQLite, dropping a column copies `learners` and drops the original: with foreign keys on
    # that would delete every learner's progress through ON DELETE CASCADE.
    await add_learner_with_progress(database_url)
    engine = create_engine(database_url)
    try:
        await downgrade(engine, "0003")  # drops learners' journey columns
        await downgrade(engine, "0002")  # drops learners.tags
        assert await current_revision(engine) == "0002"
    finally:
        await engine.dispose()
    assert await rows(database_url, "SELECT external_id, first_name FROM learners") == [
        ("1", "Ana")
    ]
    assert await rows(database_url, "SELECT learner_id, lesson FROM progress") == [
        (1, "spot-the-scam")
    ]
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    # Up again: the new columns get their defaults, and the progress is still there.
    assert await rows(database_url, "SELECT tags, consent, nudges_sent FROM learners") in (
        [("[]", "", 0)],
        [([], "", 0)],
    )  # JSON reads back as text on SQLite
    assert await rows(database_url, "SELECT learner_id, lesson FROM progress") == [
        (1, "spot-the-scam")
    ]


@sqlite_only
async def test_foreign_keys_are_on_again_after_a_migration(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        await upgrade(engine)
        await downgrade(engine, "-1")
        await upgrade(engine)
        async with engine.connect() as conn:  # the pool's one connection, used by the migration
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await engine.dispose()


async def test_alembic_check_current_downgrade_and_upgrade_from_the_repository_root(
    database_url: str,
) -> None:
    checked = alembic(database_url, "check")
    assert checked.returncode == 0, checked.stderr
    assert "No new upgrade operations detected" in checked.stdout

    current = alembic(database_url, "current")
    assert current.returncode == 0, current.stderr
    assert f"{HEAD} (head)" in current.stdout

    down = alembic(database_url, "downgrade", "-1")
    assert down.returncode == 0, down.stderr
    assert f"Running downgrade {HEAD} -> {REVISIONS[-2]}" in down.stderr  # alembic's log
    assert await rows(database_url, "SELECT version_num FROM alembic_version") == [(REVISIONS[-2],)]
    behind = alembic(database_url, "check")
    assert behind.returncode != 0
    assert "Target database is not up to date" in behind.stderr

    assert alembic(database_url, "downgrade", "base").returncode == 0
    assert await tables(database_url) <= {"alembic_version"}
    up = alembic(database_url, "upgrade", "head")
    assert up.returncode == 0, up.stderr
    assert alembic(database_url, "check").returncode == 0


async def test_alembic_check_reports_a_schema_that_differs_from_the_models(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP INDEX ix_outbox_due"))
    finally:
        await engine.dispose()
    checked = alembic(database_url, "check")
    assert checked.returncode != 0
    assert "New upgrade operations detected" in checked.stderr
    assert "ix_outbox_due" in checked.stderr


async def test_new_revisions_are_numbered_after_the_last(database_url: str, tmp_path: Path) -> None:
    # A copy of the project's alembic setup, so the repository's versions/ stays as it is.
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    versions = tmp_path / "bot/store/migrations/versions"
    shutil.copytree(MIGRATIONS, versions.parent, ignore=shutil.ignore_patterns("__pycache__"))
    config = ("-c", str(tmp_path / "pyproject.toml"))
    made = alembic(database_url, *config, "revision", "--autogenerate", "-m", "Nothing changed")
    assert made.returncode == 0, made.stderr
    after = f"{int(HEAD or 0) + 1:04d}"
    source = (versions / f"{after}_nothing_changed.py").read_text()
    assert f"revision = {after!r}" in source
    assert f"down_revision = {HEAD!r}" in source
    # The models and the migrations agree, so there is nothing to do either way.
    bodies = re.findall(r"def (?:up|down)grade\(\) -> None:\n((?:    .*\n|\n)*)", source)
    assert len(bodies) == 2
    assert all("op." not in body and "pass" in body for body in bodies), source

    # One written by hand (no --autogenerate) is numbered the same way.
    made = alembic(database_url, *config, "revision", "-m", "Move some data")
    assert made.returncode == 0, made.stderr
    next_after = f"{int(after) + 1:04d}"
    source = (versions / f"{next_after}_move_some_data.py").read_text()
    assert f"revision = {next_after!r}" in source
    assert f"down_revision = {after!r}" in source


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///{tmp}/never.db",
        "postgresql+asyncpg://nobody@127.0.0.1:9/never",  # nothing listens: offline never connects
    ],
)
def test_alembic_upgrade_sql_prints_the_migrations_offline(url: str, tmp_path: Path) -> None:
    printed = alembic(url.format(tmp=tmp_path), "upgrade", "head", "--sql")
    assert printed.returncode == 0, printed.stderr
    assert "CREATE TABLE learners" in printed.stdout
    assert "CREATE TABLE anonymous_counts" in printed.stdout
    assert f"UPDATE alembic_version SET version_num='{HEAD}'" in printed.stdout
    assert not (tmp_path / "never.db").exists()


async def lessonbot_db(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, *args: str
) -> tuple[int, str, str]:
    """`lessonbot db ...` through bot.cli.main (in a thread: it runs its own event loop)."""
    monkeypatch.setenv("DATABASE_URL", url)
    code = await asyncio.to_thread(main, ["db", *args])
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


async def test_lessonbot_db_current_downgrade_upgrade(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def db(*args: str) -> tuple[int, str, str]:
        return await lessonbot_db(monkeypatch, capsys, database_url, *args)

    assert await db("current") == (0, HEAD, "")
    assert await db("downgrade", "0002") == (0, "database is at revision 0002", "")
    assert await db("current") == (0, "0002", "")
    assert await db("downgrade", "-1") == (0, "database is at revision 0001", "")
    assert await db("downgrade", "base") == (0, "database has no revision now", "")
    assert await db("current") == (
        0,
        "database has no revision yet (run `lessonbot db upgrade`)",
        "",
    )
    assert await db("upgrade") == (0, "database is up to date", "")
    assert await db("current") == (0, HEAD, "")

    code, out, err = await db("downgrade", "0042")
    assert (code, out) == (2, "")
    assert err == "lessonbot: db downgrade: Can't locate revision identified by '0042'"
    assert await db("current") == (0, HEAD, "")


def test_lessonbot_db_downgrade_needs_a_revision(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["db", "downgrade"])
    assert exited.value.code == 2
    assert "the following arguments are required: revision" in capsys.readouterr().err


@sqlite_only
def test_lessonbot_db_current_on_a_new_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "new.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    assert main(["db", "current"]) == 0
    assert "no revision yet" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]


async def test_invitations_sent_before_the_waves_become_the_five_month_wave(
    database_url: str,
) -> None:
    """0010: a learner invited under SURVEY_AFTER_DAYS is not invited to the 5-month wave again,
    and going back down gives the invitation back to its column."""
    await add_learner_with_progress(database_url)
    engine = create_engine(database_url)
    try:
        await downgrade(engine, "0009")
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE learners SET survey_invited_at = :at"),
                {"at": datetime(2026, 6, 1, 4, 0)},
            )
        await upgrade(engine)
        assert await rows(database_url, "SELECT learner_id, months FROM survey_waves") == [(1, 5)]
        assert await rows(database_url, "SELECT arm FROM learners") == [(None,)]
        await downgrade(engine, "0009")
        [(invited,)] = await rows(database_url, "SELECT survey_invited_at FROM learners")
        assert str(invited).startswith("2026-06-01")
    finally:
        await engine.dispose()
