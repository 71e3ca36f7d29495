"""Whether the database takes a write right now, within a second: what `/healthz` reports.

A `SELECT 1` says "ok" while every write fails ("database or disk is full", a read-only file
system, a PostgreSQL standby), and on the bot's pooled SQLite connections it waits up to their
30 s busy timeout while another process holds the write lock. So this check commits a real
write, one that changes nothing, and gives up waiting for the lock well within its budget:

- SQLite, a file: its own short-lived connection (not the pool's), `BEGIN IMMEDIATE` with a
  busy timeout of a quarter of the budget, the write, `COMMIT`. The commit appends a page to
  the WAL as every learner's update does, so it fails the way theirs fail.
- PostgreSQL (and SQLite in memory): the engine's own connection, with `lock_timeout` and
  `statement_timeout` inside the budget on PostgreSQL.

The write is `UPDATE alembic_version SET version_num = version_num`: every migrated database
has that one row, and writing its own value back changes nothing, so the check needs no table
of its own (and no migration). A migration in progress holds that row, so the check says
"busy" then, which is true.

"busy" answers 200: another writer holding the lock means the database works. "unwritable" and
"unreachable" answer 503. The reason is short and names no path or host, as `/healthz` is
public; the log has the detail.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

BUDGET = 1.0  # seconds for the whole check
TOUCH = "UPDATE alembic_version SET version_num = version_num"
NOT_MIGRATED = "the database has no schema: run `lessonbot db upgrade`"

State = Literal["ok", "busy", "unwritable", "unreachable"]


@dataclass(frozen=True)
class Health:
    database: State
    reason: str = ""  # for the answer: short, and naming no path or host
    detail: str = field(default="", compare=False)  # for the log only

    @property
    def http_status(self) -> int:
        return 200 if self.database in ("ok", "busy") else 503

    def as_json(self) -> dict[str, str]:
        return {"database": self.database, **({"reason": self.reason} if self.reason else {})}


async def check_database(engine: AsyncEngine, budget: float = BUDGET) -> Health:
    """Commit a write that changes nothing; report how it went, within `budget` seconds."""
    path = _sqlite_file(engine.url)
    if path is not None:
        health = await _check_sqlite_file(path, budget)
    else:
        health = await _check_engine(engine, budget)
    if health.database != "ok":
        level = logging.INFO if health.database == "busy" else logging.WARNING
        detail = f": {health.detail}" if health.detail and health.detail != health.reason else ""
        log.log(level, "database health: %s (%s)%s", health.database, health.reason, detail)
    return health


def _sqlite_file(url: URL) -> Path | None:
    """The SQLite file the engine writes, or None (another database, memory, a URI)."""
    if url.get_backend_name() != "sqlite" or url.query.get("uri"):
        return None
    if not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


async def _check_sqlite_file(path: Path, budget: float) -> Health:
    try:
        # A thread of its own: the sqlite3 calls block. If the file system hangs, the thread
        # finishes (and closes its connection) on its own, after the answer has gone.
        return await asyncio.wait_for(asyncio.to_thread(_probe_sqlite, path, budget / 4), budget)
    except TimeoutError:
        return Health("unwritable", f"the test write took over {budget:g} s", str(path))


def _probe_sqlite(path: Path, busy_timeout: float) -> Health:
    conn: sqlite3.Connection | None = None
    try:
        # mode=rw: a missing file is an error, not a new empty database.
        uri = f"{path.resolve().as_uri()}?mode=rw"
        conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")  # as the bot's own connections (store/db.py)
        conn.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints are the bot's work, not ours
        conn.execute("BEGIN IMMEDIATE")
        touched = conn.execute(TOUCH).rowcount
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        return replace(_from_sqlite(exc, path, busy_timeout), detail=f"{path}: {exc}")
    finally:
        if conn is not None:
            conn.close()  # rolls back whatever a failure left open
    return Health("ok") if touched else Health("unwritable", NOT_MIGRATED)


def _from_sqlite(exc: sqlite3.Error, path: Path | None, busy_timeout: float) -> Health:
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return Health("busy", f"another connection has held the write lock over {busy_timeout:g} s")
    if name.startswith("SQLITE_CANTOPEN"):
        if path is not None and not path.exists():
            return Health("unreachable", "the database file does not exist")
        # The file is there, but it (or its -wal and -shm files) can't be opened to write.
        return Health("unwritable", f"{exc} (a read-only file system or folder?)")
    if "no such table" in str(exc):
        return Health("unwritable", NOT_MIGRATED)
    return Health("unwritable", _brief(str(exc)))  # e.g. "database or disk is full"


async def _check_engine(engine: AsyncEngine, budget: float) -> Health:
    postgres = engine.url.get_backend_name() == "postgresql"
    connected = False
    try:
        async with asyncio.timeout(budget), engine.connect() as conn:
            connected = True
            async with conn.begin():
                if postgres:
                    # Waiting for a row lock past a quarter of the budget is "busy"; a write
                    # slower than three quarters of it, with no lock to wait for, is not ok.
                    ms = int(budget * 1000)
                    await conn.execute(text(f"SET LOCAL lock_timeout = {ms // 4}"))
                    await conn.execute(text(f"SET LOCAL statement_timeout = {ms * 3 // 4}"))
                touched = (await conn.execute(text(TOUCH))).rowcount
    except TimeoutError:
        if not connected:
            return Health("unreachable", f"no connection within {budget:g} s")
        return Health("unwritable", f"the test write took over {budget:g} s")
    except DBAPIError as exc:
        return replace(_from_dbapi(exc, connected, budget), detail=_brief(str(exc)))
    except (SQLAlchemyError, OSError) as exc:  # refused, no such host, the pool gave up
        if connected:
            return Health("unwritable", type(exc).__name__, _brief(str(exc)))
        return Health("unreachable", f"cannot connect ({type(exc).__name__})", _brief(str(exc)))
    return Health("ok") if touched else Health("unwritable", NOT_MIGRATED)


def _from_dbapi(exc: DBAPIError, connected: bool, budget: float) -> Health:
    if isinstance(exc.orig, sqlite3.Error):
        return _from_sqlite(exc.orig, None, budget / 4)
    if not connected or exc.connection_invalidated:
        cause = (exc.orig and exc.orig.__cause__) or exc.orig  # the driver's, e.g. asyncpg's
        return Health("unreachable", f"cannot connect ({type(cause).__name__})")
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if sqlstate == "55P03":  # lock_not_available: lock_timeout
        return Health("busy", f"another transaction has held a lock over {budget / 4:g} s")
    if sqlstate == "57014":  # query_canceled: statement_timeout
        return Health("unwritable", f"the test write took over {budget * 3 / 4:g} s")
    if sqlstate == "42P01":  # undefined_table
        return Health("unwritable", NOT_MIGRATED)
    # e.g. 25006 read_only_sql_transaction (a standby), 53100 disk_full: the server's words
    return Health("unwritable", _brief(str(exc.orig).rpartition(">: ")[2] or str(exc.orig)))


def _brief(message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return first[:200]
