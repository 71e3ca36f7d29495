"""Alembic environment, for both ways the migrations run.

- Inside LessonBot (`lessonbot db ...`, see bot.store.db): the bot opens the connection itself and
  passes it in `config.attributes["connection"]`; this file only runs the migrations on it.
- From the `alembic` command in the repository root (`[tool.alembic]` in pyproject.toml): the
  database is the bot's own `DATABASE_URL` (bot.config.Settings: the environment, then `.env`),
  opened with bot.store.db.create_engine so SQLite gets the bot's pragmas. With `--sql` nothing
  is opened: the SQL for that URL's dialect is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from alembic import context
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from bot.store.models import Base

config = context.config


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    # The alembic command configures no logging without an alembic.ini: show what it does.
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(levelname)-5.5s [%(name)s] %(message)s")
        logging.getLogger("alembic").setLevel(logging.INFO)
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from bot.config import Settings

    url = Settings.load().database_url
    if context.is_offline_mode():
        context.configure(
            url=url,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            **_options(url.startswith("sqlite")),
        )
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(_run_online(url))


async def _run_online(url: str) -> None:
    from bot.store.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


def run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(connection=connection, **_options(sqlite))
    keys_off = _foreign_keys_off(connection) if sqlite else contextlib.nullcontext(False)
    with keys_off as off, context.begin_transaction():
        before = context.get_context().get_current_heads()
        context.run_migrations()
        if off and context.get_context().get_current_heads() != before:
            _check_foreign_keys(connection)


def _options(sqlite: bool) -> dict[str, Any]:
    return {
        "target_metadata": Base.metadata,
        "render_as_batch": sqlite,  # SQLite can't ALTER most things: copy the table instead
        # SQLite's DDL is transactional too (create_engine leaves BEGIN to SQLAlchemy, so the
        # driver commits nothing behind its back): all the migrations of a run in one
        # transaction, which a failure rolls back whole, as on PostgreSQL.
        "transactional_ddl": True,
        "process_revision_directives": _numbered,
    }


@contextlib.contextmanager
def _foreign_keys_off(connection: Connection) -> Iterator[bool]:
    """SQLite's own recipe for schema changes: foreign keys off around the transaction.

    A batch operation copies a table, drops the original and renames the copy. With foreign keys
    on, dropping `learners` would first delete every learner row and, through ON DELETE CASCADE,
    their progress, answers, certificates and outbox rows. The pragma does nothing inside a
    transaction, so it is set on the driver connection before Alembic begins one; a caller that
    already began a transaction keeps foreign keys as they are. Yields whether they are off.
    """
    if connection.in_transaction():
        yield False
        return
    _pragma(connection, "foreign_keys=OFF")
    try:
        yield True
    finally:
        if connection.in_transaction():  # only after a failure: nothing of it is kept
            connection.rollback()
        _pragma(connection, "foreign_keys=ON")
        # The connection goes back to the bot's pool: it must never serve with them off.
        if _pragma(connection, "foreign_keys") != 1:
            connection.invalidate()
            raise RuntimeError("could not turn SQLite foreign keys on again after migrating")


def _pragma(connection: Connection, pragma: str) -> Any:
    cursor = connection.connection.cursor()  # the driver's: no SQLAlchemy autobegin
    try:
        cursor.execute(f"PRAGMA {pragma}")
        row = cursor.fetchone()
        return row[0] if row else None
    finally:
        cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    """With foreign keys off a migration could leave dangling references: then don't commit.

    Only after a migration ran: the check reads every table, too slow for each release.
    """
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"the migration broke foreign keys (table, rowid, parent): {broken}")


def _numbered(
    _context: MigrationContext, _revision: Any, directives: list[MigrationScript]
) -> None:
    """Name a new revision after the last one plus one (0005 after 0004), unless --rev-id says."""
    if getattr(config.cmd_opts, "rev_id", None):
        return
    numbers = [
        int(script.revision)
        for script in ScriptDirectory.from_config(config).walk_revisions()
        if script.revision.isdigit()
    ]
    for directive in directives:
        directive.rev_id = f"{max(numbers, default=0) + 1:04d}"


main()
