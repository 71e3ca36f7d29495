"""Bulk INSERTs for generated data: rows as tuples, one executemany per table and chunk.

SQLAlchemy turns every value of every row into its database form in Python, which at millions
of rows takes longer than SQLite's own work. On SQLite, `Batch` does that conversion itself,
only for the columns that need it, and hands the rows straight to the driver; other databases
get an ordinary Core insert.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import JSON, DateTime, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.models import Base


def _sqlite_value(kind: str) -> Callable[[Any], Any]:
    """What SQLAlchemy would send to SQLite for a value of this column type."""
    if kind == "datetime":
        return lambda v: None if v is None else v.isoformat(" ", "microseconds")
    return lambda v: json.dumps(v, separators=(",", ":")) if v else ("[]" if v == [] else "{}")


class Batch:
    """Rows of one table, as tuples in a fixed column order, written with one executemany.

    On SQLite the rows go straight to the driver: SQLAlchemy's per-value processing would take
    most of the time at 250,000 learners. Datetimes are written the way SQLAlchemy writes
    them, so the bot and the report read them back as usual.
    """

    def __init__(self, model: type[Base], columns: tuple[str, ...]) -> None:
        self.model = model
        self.columns = columns
        self.rows: list[tuple[Any, ...]] = []
        table = model.__table__
        self.convert = [
            (i, _sqlite_value("datetime" if isinstance(table.c[name].type, DateTime) else "json"))
            for i, name in enumerate(columns)
            if isinstance(table.c[name].type, DateTime | JSON)
        ]
        self.sql = (
            f"INSERT INTO {model.__tablename__} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )

    def add(self, *values: Any) -> None:
        self.rows.append(values)

    def prepare(self, dialect: str) -> None:
        """Turn the rows into what the driver takes."""
        if dialect != "sqlite":
            return
        for n, row in enumerate(self.rows):
            values = list(row)
            for i, convert in self.convert:
                values[i] = convert(values[i])
            self.rows[n] = tuple(values)

    async def flush(self, conn: AsyncConnection) -> int:
        written = len(self.rows)
        if not self.rows:
            return 0
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql(self.sql, self.rows)
        else:
            await conn.execute(
                insert(self.model), [dict(zip(self.columns, row, strict=True)) for row in self.rows]
            )
        self.rows = []
        return written
