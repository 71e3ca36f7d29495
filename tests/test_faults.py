"""Faults under the bot. The database: a PostgreSQL connection dropped in the middle of a
learner's transaction, SQLite writers contending for its one lock, and what /healthz says when
the database is full, read-only, locked or gone. The Bot API: answers that are not JSON."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram.client.session.base import DEFAULT_TIMEOUT as AIOGRAM_TIMEOUT
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.telegram.aiogram_adapter import AiogramAdapter
from bot.channels.telegram.api import BotApi, Rejected, Transient, Unreachable
from bot.channels.telegram.ptb_adapter import PtbAdapter
from bot.channels.telegram.webhook import webhook_app
from bot.engine import Command, Start, Text
from bot.i18n import Catalogs
from bot.service import NOT_SAVED, LessonService
from bot.store import Identity, LearnerStore, create_engine
from bot.store.health import NOT_MIGRATED, Health, check_database
from bot.store.learners import open_learner
from tests.databases import fresh_database, needs_postgres, rows, saved_step, sqlite_only
from tests.fakebotapi import FakeBotAPI

ANA = Identity("test", "1", first_name="Ana")


@pytest.fixture
async def service(tmp_path: Path, library: Any, database_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    catalogs = Catalogs(tmp_path / "no-locales")
    yield LessonService(library, LearnerStore(engine), catalogs, catalogs.languages())
    await engine.dispose()


@asynccontextmanager
async def ddl(url: str) -> AsyncIterator[Any]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            yield conn
    finally:
        await engine.dispose()


@needs_postgres
async def test_connection_dropped_mid_transaction(
    service: LessonService, database_url: str
) -> None:
    await service.handle(ANA, Start("online-safety"))
    await service.handle(ANA, Text("Start learning"))
    before = await saved_step(database_url, ANA.external_id)
    # The server ends the session half-way through the learner's update: after the learner
    # row was read and locked, when the events are written. A trigger does it on the server,
    # so it happens however the bot runs its statements.
    async with ddl(database_url) as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION end_session() RETURNS trigger AS $$ BEGIN "
                "PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$ "
                "LANGUAGE plpgsql"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER drop_connection BEFORE INSERT ON events "
                "FOR EACH ROW EXECUTE FUNCTION end_session()"
            )
        )
    replies = await service.handle(ANA, Text("1"))
    async with ddl(database_url) as conn:
        await conn.execute(text("DROP TRIGGER drop_connection ON events"))
    assert [r.text for r in replies] == [NOT_SAVED]
    # Rolled back: nothing half-saved.
    assert await saved_step(database_url, ANA.external_id) == before
    [(events,)] = await rows(database_url, "SELECT count(*) FROM events")
    replies = await service.handle(ANA, Command("continue"))  # a new connection, and on
    assert replies and replies[0].text != NOT_SAVED
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
    assert all(r and r[0].text != NOT_SAVED for r in replies)
    assert await rows(database_url, "SELECT count(*) FROM learners") == [(20,)]
    for engine in (*engines, blocker):
        await engine.dispose()


# -- The Bot API answering with something that is not a Bot API answer -------------------------

TOKEN = "123456:TEST-token-for-the-fake"
HTML_502 = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    "</center><hr><center>nginx</center></body></html>"
)
# (status, body, content type) as a proxy or a broken connection might answer
NOT_JSON = {
    "html-502": (502, HTML_502, "text/html"),
    "plain-200": (200, "Service temporarily unavailable", "text/plain"),
    "cut-off-200": (200, '{"ok":true,"result":{"message_id":4', "application/json"),
    # Telegram's own 400 and 403 are JSON: these pages must not reject the message or mark
    # the learner as blocked.
    "html-400": (400, "<html><body>400 Bad Request</body></html>", "text/html"),
    "html-403": (403, "<html><body>403 Forbidden: Access denied</body></html>", "text/html"),
}


@asynccontextmanager
async def telegram_api(framework: str, fake: FakeBotAPI) -> AsyncIterator[BotApi]:
    """The real framework's adapter, sending only, against the fake."""
    adapter: AiogramAdapter | PtbAdapter = (
        PtbAdapter(TOKEN, fake.url) if framework == "ptb" else AiogramAdapter(TOKEN, fake.url)
    )
    await adapter.start(None)
    try:
        yield adapter.api
    finally:
        await adapter.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@pytest.mark.parametrize("framework", ["aiogram", "ptb"])
@pytest.mark.parametrize("answer", NOT_JSON)
async def test_an_answer_that_is_not_json_is_transient(
    fake: FakeBotAPI, framework: str, answer: str
) -> None:
    status, body, content_type = NOT_JSON[answer]
    async with telegram_api(framework, fake) as api:
        fake.fail_next("sendMessage", status, body=body, content_type=content_type)
        with pytest.raises(Transient, match="not a Bot API answer"):
            await api.send_text(ANA_CHAT, "Hello", None)
        [served] = [c for c in fake.calls_of("sendMessage") if c.raw is not None]
        assert served.status == status and not fake.sent_messages()
        await api.send_text(ANA_CHAT, "Hello", None)  # and the next try goes through
        assert len(fake.sent_messages(ANA_CHAT)) == 1


@pytest.mark.parametrize("framework", ["aiogram", "ptb"])
async def test_telegrams_own_errors_keep_their_meaning(fake: FakeBotAPI, framework: str) -> None:
    async with telegram_api(framework, fake) as api:
        fake.fail_next("sendMessage", 400, "Bad Request: can't parse entities")
        with pytest.raises(Rejected):
            await api.send_text(ANA_CHAT, "Hello", None)
        fake.fail_next("sendMessage", 502, "Bad Gateway")
        with pytest.raises(Transient):
            await api.send_text(ANA_CHAT, "Hello", None)
        fake.block_chat(ANA_CHAT)
        with pytest.raises(Unreachable):
            await api.send_text(ANA_CHAT, "Hello", None)


async def test_aiogram_does_not_resend_what_telegram_accepted_but_it_cannot_read(
    fake: FakeBotAPI,
) -> None:
    """A 200 whose JSON says ok but whose result aiogram can't parse: Telegram sent it, so
    sending again would repeat the message."""
    async with telegram_api("aiogram", fake) as api:
        fake.set_result("sendMessage", "not a message")
        with pytest.raises(Rejected, match="deserialize"):
            await api.send_text(ANA_CHAT, "Hello", None)


def test_ptb_waits_as_long_as_aiogram_for_an_answer() -> None:
    """ptb's 5 s default read timeout resent slow replies (tests/test_api_faults_e2e.py)."""
    adapter = PtbAdapter(TOKEN, "http://127.0.0.1:9")
    assert adapter.app.bot.request.read_timeout == AIOGRAM_TIMEOUT


# -- /healthz: a write within a second ---------------------------------------------------------

ANA_CHAT = 1001


@asynccontextmanager
async def write_lock_held(url: str) -> AsyncIterator[None]:
    """Another connection holding what a write needs: SQLite's one write lock (BEGIN
    IMMEDIATE), or on PostgreSQL the row the check rewrites."""
    blocker = create_engine(url)  # create_engine begins SQLite transactions IMMEDIATE
    try:
        async with blocker.begin() as conn:
            if blocker.dialect.name == "sqlite":
                await conn.execute(text("UPDATE learners SET locale = locale"))
            else:
                await conn.execute(text("SELECT * FROM alembic_version FOR UPDATE"))
            yield
    finally:
        await blocker.dispose()


@asynccontextmanager
async def engine_for(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def healthz(engine: AsyncEngine) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The webhook app, as `lessonbot run` serves it, checking `engine`."""

    async def store(_update: dict[str, Any]) -> None:
        raise AssertionError("no updates in these tests")

    async def healthy() -> Health:
        return await check_database(engine)

    async with TestClient(TestServer(webhook_app("/hook", "secret", store, healthy))) as client:
        yield client


async def test_health_is_ok_on_a_working_database(database_url: str) -> None:
    async with engine_for(database_url) as engine:
        assert await check_database(engine) == Health("ok")
        async with healthz(engine) as client:
            response = await client.get("/healthz")
            assert response.status == 200
            assert await response.json() == {"database": "ok"}


async def test_health_answers_within_a_second_while_another_writer_holds_the_lock(
    database_url: str,
) -> None:
    async with engine_for(database_url) as engine:
        async with write_lock_held(database_url):
            started = time.monotonic()
            health = await check_database(engine)
            assert time.monotonic() - started < 1.0
            assert health.database == "busy" and health.http_status == 200
            async with healthz(engine) as client:
                started = time.monotonic()
                response = await client.get("/healthz")
                assert time.monotonic() - started < 1.0
                assert response.status == 200  # the database works; someone else is writing
                assert (await response.json())["database"] == "busy"
        assert await check_database(engine) == Health("ok")


@sqlite_only
async def test_health_on_a_disk_full_sqlite_file(tmpfs: Path) -> None:
    async with fresh_database(tmpfs) as url, engine_for(url) as engine:
        store = LearnerStore(engine)
        await arrive(store, "1")  # the bot is running
        filler = tmpfs / "filler"
        fill(filler)
        with pytest.raises(Exception, match="database or disk is full"):
            await arrive(store, "2")  # the learners' writes fail
        started = time.monotonic()
        health = await check_database(engine)
        assert time.monotonic() - started < 1.0
        assert health == Health("unwritable", "database or disk is full")
        async with healthz(engine) as client:
            response = await client.get("/healthz")
            assert response.status == 503
            assert await response.json() == {
                "database": "unwritable",
                "reason": "database or disk is full",
            }
        filler.unlink()
        assert await check_database(engine) == Health("ok")


@sqlite_only
async def test_health_on_a_read_only_file_system(tmpfs: Path) -> None:
    async with fresh_database(tmpfs) as url, engine_for(url) as engine:
        remount(tmpfs, "ro")
        try:
            health = await check_database(engine)
        finally:
            remount(tmpfs, "rw")
        assert health.database == "unwritable" and "read-only" in health.reason
        assert health.http_status == 503


@sqlite_only
async def test_health_without_a_database_file_or_its_schema(tmp_path: Path) -> None:
    async with engine_for(f"sqlite+aiosqlite:///{tmp_path / 'gone.db'}") as engine:
        # create_engine made the folder; the check must not make an empty database there
        assert await check_database(engine) == Health("unreachable", NOT_THERE)
        assert not (tmp_path / "gone.db").exists()
    sqlite3.connect(tmp_path / "empty.db").close()
    async with engine_for(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}") as engine:
        assert await check_database(engine) == Health("unwritable", NOT_MIGRATED)
        async with healthz(engine) as client:
            response = await client.get("/healthz")
            assert response.status == 503
            assert await response.json() == {"database": "unwritable", "reason": NOT_MIGRATED}


async def test_health_of_a_postgresql_server_that_is_not_there() -> None:
    # Port 9 on loopback: nothing listens there, so the connection is refused at once.
    async with engine_for("postgresql+asyncpg://bot@127.0.0.1:9/bot") as engine:
        started = time.monotonic()
        health = await check_database(engine)
        assert time.monotonic() - started < 1.5
        assert health == Health("unreachable", "cannot connect (ConnectionRefusedError)")
        assert "127.0.0.1" not in str(health.as_json())  # /healthz is public


@needs_postgres
async def test_health_of_a_read_only_postgresql_database(database_url: str) -> None:
    name = make_url(database_url).database
    async with engine_for(database_url) as admin, admin.connect() as conn:
        await conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        await conn.commit()
    async with engine_for(database_url) as engine:  # new sessions are read-only, as on a standby
        health = await check_database(engine)
    assert health.database == "unwritable" and "read-only transaction" in health.reason


NOT_THERE = "the database file does not exist"


async def arrive(store: LearnerStore, external_id: str) -> None:
    """A learner's first update: the write every update makes."""
    who, now = Identity("test", external_id), datetime.now(UTC)
    await store.transact(lambda conn: open_learner(conn, who, now))


def fill(path: Path) -> None:
    """Write to `path` until its file system is full."""
    with path.open("wb", buffering=0) as out:
        with contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 65536)
        with contextlib.suppress(OSError):  # the last few bytes
            while True:
                out.write(b"\0")


def remount(mount: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mount)], check=True)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A small file system of its own (a tmpfs), to fill up; skipped where we can't mount."""
    mount = tmp_path / "small"
    mount.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
        )
        why = done.stderr.strip() or f"exit status {done.returncode}"
    except OSError as exc:  # no mount command
        done, why = None, str(exc)
    if done is None or done.returncode != 0:
        pytest.skip(f"needs a tmpfs to fill, and `mount -t tmpfs` is not permitted here ({why})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)
