"""Database engine creation and migrations.

SQLite is the embedded default: WAL so readers never block the writer, `BEGIN IMMEDIATE` so two
transactions never both read and then fight to write (the "database is locked" upgrade
deadlock), and a busy timeout so a brief wait is not an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).with_name("migrations")
READ_ONLY = "lessonbot_read_only"  # an execution option: this connection only reads


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, hide_parameters=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
    configure_sqlite(engine.sync_engine)
    return engine


def configure_sqlite(engine: Engine) -> None:
    """The pragmas and transaction start every SQLite connection of ours gets."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            # FULL: a commit survives a power cut too. With group commit its fsync is shared by
            # every update of the group, and it measured no slower than NORMAL.
            "synchronous=FULL",
            "foreign_keys=ON",
            "busy_timeout=30000",
            # Deleted rows are overwritten with zeros, not left in free space: after /delete
            # nothing of the learner stays in the file (many builds, e.g. Debian's, default to
            # this; others do not). See `bot.store.personal.erase`.
            "secure_delete=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A reader must not take the write lock: in WAL mode its plain BEGIN never waits.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def for_reading(engine: AsyncEngine) -> AsyncEngine:
    """The same database and pool, for queries that only read (they never wait for writers)."""
    return engine.execution_options(**{READ_ONLY: True})


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision` (Alembic, on our own connection)."""
    from alembic import command

    # connect(), not begin(): env.py begins the transaction, so that on SQLite it can first turn
    # foreign keys off (a pragma that a transaction ignores).
    async with engine.connect() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_alembic_config(sync), revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Undo migrations down to `revision`: an id such as "0003", "-1", or "base" for none."""
    from alembic import command

    async with engine.connect() as conn:
        await conn.run_sync(lambda sync: command.downgrade(_alembic_config(sync), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def insert_or_skip(dialect: str, table: Any) -> Any:
    """INSERT that takes this database's ON CONFLICT clause (both dialects spell it alike)."""
    return postgresql_insert(table) if dialect == "postgresql" else sqlite_insert(table)


def checkpoint_wal(dbapi_conn: Any, wait: float = 2.0) -> bool:
    """Copy SQLite's WAL into the database file and truncate the WAL to nothing.

    On a DBAPI connection outside any transaction. Rows deleted since the last checkpoint
    survive in the WAL's older frames (and a plain checkpoint leaves those frames in the file
    to be overwritten later); TRUNCATE takes them out. It waits at most `wait` seconds for
    readers of older snapshots; False if they kept it from finishing (the next checkpoint
    does it).
    """
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout")
        (timeout,) = cursor.fetchone()
        cursor.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        try:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, _, _ = cursor.fetchone()
        finally:
            cursor.execute(f"PRAGMA busy_timeout={int(timeout)}")
    finally:
        cursor.close()
    return not busy
