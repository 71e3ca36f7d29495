"""Collect the figures, then write report.html and one CSV per table.

All queries run on one connection inside one read transaction, so every table describes the
same moment even while the bot keeps writing. A report can be about one channel's learners
(`channel`); every figure is then theirs only.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, event, func, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.content.library import Library
from bot.errors import LessonBotError
from bot.report import evidence, queries
from bot.report.demo import is_demo
from bot.report.privacy import can_be_hidden
from bot.report.programme import Costs, Period
from bot.report.tables import (
    FOLLOW_UP,
    Cell,
    Report,
    ReportData,
    Table,
    build,
    channel_refusal,
)
from bot.store import create_engine
from bot.store.models import Learner


def reader(url: str) -> AsyncEngine:
    """An engine for reading only.

    On SQLite the bot's engine starts every transaction with BEGIN IMMEDIATE, which takes the
    write lock: a report of some seconds on a big database would stall the running bot. A
    plain BEGIN reads a snapshot under WAL and lets the bot keep writing.
    """
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url)
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun below, not by the driver
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA query_only = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


@asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One connection in one transaction: a consistent view for every query."""
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            yield conn


class ReportRefused(LessonBotError):
    """A report that would undo the small-cell suppression of the full report."""


async def collect(
    engine: AsyncEngine,
    library: Library,
    now: datetime,
    *,
    channel: str | None = None,
    period: Period | None = None,
    programme: str = "",
    costs: Costs | None = None,
) -> ReportData:
    """Every figure, from one snapshot; with `channel`, of that channel's learners only, and
    with `period`, of the learners who first wrote in it.

    Raises ReportRefused for a channel whose learner count the full report hides.
    """
    period = period or Period()
    conditions = [c for c in (period.condition(),) if c is not None]
    if channel is not None:
        conditions.append(Learner.channel == channel)
    who = and_(*conditions) if conditions else None
    mine = [] if who is None else [who]
    async with snapshot(engine) as conn:
        if channel is not None:
            problem = channel_refusal(channel, await queries.breakdown(conn, "channel"))
            if problem:
                raise ReportRefused(f"no report for --channel {channel}: {problem}")
        first = (await conn.execute(select(func.min(Learner.created_at)).where(*mine))).scalar()
        demo_learners = (
            await conn.execute(select(func.count()).select_from(Learner).where(is_demo(), *mine))
        ).scalar()
        return ReportData(
            generated=now,
            learners=await queries.learner_count(conn, who=who),
            breakdowns={d: await queries.breakdown(conn, d, who=who) for d in queries.DIMENSIONS},
            # What erased learners left says neither their channel nor when they came: a report
            # of some learners only leaves it out.
            erased={} if who is not None else await queries.erased(conn),
            funnels=await queries.funnels(conn, library, who=who),
            certificates=await queries.certificates_by_course(conn, who=who),
            stops=await queries.drop_offs(conn, who=who),
            quiz=await queries.quiz(conn, who=who),
            surveys=await queries.survey(conn, library, who=who),
            weekly=await queries.weekly(conn, library, who=who),
            first_seen=first.date()
            if isinstance(first, datetime)
            else (date.fromisoformat(str(first)[:10]) if first else None),
            demo_learners=int(demo_learners or 0),
            outcomes={
                d: await queries.outcomes(conn, library, d, FOLLOW_UP, who=who)
                for d in queries.OUTCOME_DIMENSIONS
            },
            channel=channel,
            broadcasts=await queries.broadcasts_by_channel(conn, who=who),
            not_sent=await queries.follow_ups_not_sent(conn, who=who),
            evidence=await evidence.collect(conn, who=who),
            programme=programme,
            period=period,
            costs=costs,
        )


def write_csv(table: Table, path: Path, *, excel: bool = False) -> None:
    """One table as CSV, numbers as numbers: a hidden cell is empty, and the column
    `<key>_flag` beside each column whose cells privacy may hide says why (privacy.FLAGS).

    UTF-8; with `excel`, with a byte order mark, without which Excel reads UTF-8 as the
    system's legacy code page and garbles every non-English name.
    """

    def value(cell: Cell) -> str:
        return cell if isinstance(cell, str) else str(cell) if isinstance(cell, int) else cell.csv()

    def flag(cell: Cell) -> str:
        return "" if isinstance(cell, str | int) else cell.flag()

    # Decided per column, not per cell, so that every row has the same columns.
    flagged = {
        i for i in range(len(table.columns)) if any(can_be_hidden(row[i]) for row in table.rows)
    }
    header: list[str] = []
    for i, column in enumerate(table.columns):
        header += [column.key, f"{column.key}_flag"] if i in flagged else [column.key]
    with path.open("w", encoding="utf-8-sig" if excel else "utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for row in table.rows:
            cells: list[str] = []
            for i, cell in enumerate(row):
                cells += [value(cell), flag(cell)] if i in flagged else [value(cell)]
            writer.writerow(cells)


async def write_report(
    engine: AsyncEngine,
    library: Library,
    out_dir: Path,
    now: datetime,
    *,
    channel: str | None = None,
    period: Period | None = None,
    programme: str = "",
    costs: Costs | None = None,
    excel: bool = False,
) -> list[Path]:
    """Write report.html and the CSV files into `out_dir`; return their paths.

    With `channel`, about that channel's learners only, and so on (see `collect`). With
    `excel`, the CSV files start with a byte-order mark, by which Excel knows they are UTF-8.
    """
    from bot.report.html import render

    data = await collect(
        engine, library, now, channel=channel, period=period, programme=programme, costs=costs
    )
    report: Report = build(data, library)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    page = out_dir / "report.html"
    page.write_text(render(report, library), encoding="utf-8")
    written.append(page)
    for table in report.tables.values():
        if table.csv:
            path = out_dir / f"{table.slug}.csv"
            write_csv(table, path, excel=excel)
            written.append(path)
    return written
