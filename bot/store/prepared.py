"""The statements every update runs, compiled once and executed on the driver's own cursor.

Running a Core statement costs SQLAlchemy about as much CPU as SQLite takes to execute it: a
cache key, an execution context and a result object per call. On the update path (read the
learner, mark the update done, save, store the replies, record deliveries) that was a third of
the writer's time. A `Prepared` statement is compiled by SQLAlchemy once per database dialect
and set of parameter names, then run on the DB-API cursor of the job's connection, inside its
transaction. Parameters and results still go through the column types' own processors (JSON,
DateTime), so what is stored and read back is exactly what Core would store and read.

Only for fixed statements: no expanding `IN (...)` lists, no SQL that varies per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Form:
    """One compilation: the SQL text, and how to turn named values into the driver's tuple."""

    sql: str
    names: tuple[str, ...]
    fixed: Mapping[str, Any]  # values the statement itself carries (`.values(status="done")`)
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, process in zip(self.names, self.binds, strict=True):
            value = params[name] if name in params else self.fixed[name]
            values.append(value if process is None else process(value))
        return tuple(values)

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            value if process is None else process(value)
            for value, process in zip(raw, self.results, strict=True)
        )


class Prepared:
    """A statement (or a function of the dialect's name that builds one, for dialect-specific
    constructs such as ON CONFLICT) to run many times with different parameters."""

    def __init__(self, statement: Executable | Callable[[str], Executable]) -> None:
        self._build = statement if callable(statement) else (lambda _name: statement)
        self._forms: dict[tuple[str, frozenset[str]], _Form] = {}

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run once; the rows it returns (a SELECT, or RETURNING), processed by column type."""
        form = self._form(conn.dialect, params.keys())
        with _translated(conn, form.sql) as cursor:
            cursor.execute(form.sql, form.arguments(params))
            if cursor.description is None:
                return []
            return [form.row(raw) for raw in cursor.fetchall()]

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run once; how many rows it changed."""
        form = self._form(conn.dialect, params.keys())
        with _translated(conn, form.sql) as cursor:
            cursor.execute(form.sql, form.arguments(params))
            return int(cursor.rowcount)

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row of parameters (all with the same names), in one driver call."""
        if not rows:
            return
        form = self._form(conn.dialect, rows[0].keys())
        with _translated(conn, form.sql) as cursor:
            cursor.executemany(form.sql, [form.arguments(row) for row in rows])

    def _form(self, dialect: Dialect, keys: Iterable[str]) -> _Form:
        names = frozenset(keys)
        found = self._forms.get((dialect.name, names))
        if found is None:
            found = self._forms[(dialect.name, names)] = _compile(
                self._build(dialect.name), dialect, names
            )
        return found


def _compile(statement: Executable, dialect: Dialect, keys: frozenset[str]) -> _Form:
    compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))  # type: ignore[attr-defined]
    if compiled.positiontup is None:
        raise TypeError(f"{dialect.name} does not take positional parameters")
    by_name = {compiled.bind_names[bind]: bind for bind in compiled.binds.values()}
    names = tuple(compiled.positiontup)
    for name in names:
        if by_name[name].expanding:
            raise TypeError(f"{name}: an expanding IN list can't be prepared once")

    def bind_processor(name: str) -> Processor:
        kind = by_name[name].type
        process: Processor = kind.dialect_impl(dialect).bind_processor(dialect)
        return process

    if defaults := [*compiled.insert_prefetch, *compiled.update_prefetch]:
        # Python-side column defaults, which only Core's execution fills in.
        missing = sorted(column.name for column in defaults)
        raise TypeError(f"give a value for {missing}: column defaults are not applied here")
    fixed = {name: by_name[name].effective_value for name in names if not by_name[name].required}
    # What a SELECT reads, or what an INSERT, UPDATE or DELETE returns: its RETURNING, or the
    # primary key a dialect returns by itself (PostgreSQL does, for a single-row INSERT).
    columns = compiled.effective_returning or getattr(statement, "selected_columns", ())
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
    )
    return _Form(compiled.string, names, fixed, tuple(map(bind_processor, names)), results)


class _translated:
    """A fresh cursor on the connection's driver connection; the driver's errors become
    SQLAlchemy's `DBAPIError`, as Core raises them, so callers handle one kind of failure."""

    def __init__(self, conn: Connection, sql: str) -> None:
        self._conn = conn
        self._sql = sql

    def __enter__(self) -> Any:
        dbapi = self._conn.connection.dbapi_connection
        assert dbapi is not None, "the connection is closed"
        self._cursor = dbapi.cursor()
        return self._cursor

    def __exit__(self, kind: Any, error: BaseException | None, _trace: Any) -> None:
        self._cursor.close()
        base = self._conn.dialect.loaded_dbapi.Error
        if isinstance(error, base):
            raise DBAPIError.instance(self._sql, None, error, base) from error
