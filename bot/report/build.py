"""Collect the figures, then write report.html and one CSV per table.

All queries run on one connection inside one read transaction, so every table describes the
same moment even while the bot keeps writing.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.content.library import Library
from bot.report import queries
from bot.report.tables import Report, ReportData, Table, build
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


async def collect(engine: AsyncEngine, library: Library, now: datetime) -> ReportData:
    async with snapshot(engine) as conn:
        first = (await conn.execute(select(func.min(Learner.created_at)))).scalar()
        demo_learners = (
            await conn.execute(
                select(func.count()).select_from(Learner).where(Learner.channel == "demo")
            )
        ).scalar()
        return ReportData(
            generated=now,
            learners=await queries.learner_count(conn),
            breakdowns={d: await queries.breakdown(conn, d) for d in queries.DIMENSIONS},
            erased=await queries.erased(conn),
            funnels=await queries.funnels(conn, library),
            certificates=await queries.certificates_by_course(conn),
            stops=await queries.drop_offs(conn),
            quiz=await queries.quiz(conn),
            surveys=await queries.survey(conn, library),
            weekly=await queries.weekly(conn, library),
            first_seen=first.date()
            if isinstance(first, datetime)
            else (date.fromisoformat(str(first)[:10]) if first else None),
            demo_learners=int(demo_learners or 0),
        )


def write_csv(table: Table, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([c.key for c in table.columns])
        for row in table.rows:
            writer.writerow(
                [
                    cell
                    if isinstance(cell, str)
                    else str(cell)
                    if isinstance(cell, int)
                    else cell.csv()
                    for cell in row
                ]
            )


async def write_report(
    engine: AsyncEngine, library: Library, out_dir: Path, now: datetime
) -> list[Path]:
    """Write report.html and the CSV files into `out_dir`; return their paths."""
    from bot.report.html import render

    report: Report = build(await collect(engine, library, now), library)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    page = out_dir / "report.html"
    page.write_text(render(report, library), encoding="utf-8")
    written.append(page)
    for table in report.tables.values():
        if table.csv:
            path = out_dir / f"{table.slug}.csv"
            write_csv(table, path)
            written.append(path)
    return written
