"""A demo programme and its report, made once for a test module: `lessonbot demo-data` then
`lessonbot report`, on a real SQLite file."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.content import Library
from bot.report import demo
from bot.report.build import collect, write_report
from bot.report.tables import ReportData
from bot.store import create_engine, upgrade

NOW = datetime(2026, 11, 22, 12, 0)


@dataclass(frozen=True)
class DemoReport:
    db: Path
    out: Path  # report.html and the CSV files
    data: ReportData  # the figures they were written from


def demo_report(
    root: Path, library: Library, learners: int, *, seed: int, effect: float = demo.EFFECT
) -> DemoReport:
    """`learners` demo learners in `root/demo.db`, and their report in `root/out`."""
    db = root / "demo.db"

    async def make() -> ReportData:
        engine = create_engine(f"sqlite+aiosqlite:///{db}")
        try:
            await upgrade(engine)
            await demo.generate(engine, library, learners, seed=seed, now=NOW, effect=effect)
            await write_report(engine, library, root / "out", NOW)
            return await collect(engine, library, NOW)
        finally:
            await engine.dispose()

    # In a thread of its own: a module that drives Playwright's sync API keeps an event loop
    # running on this thread, where asyncio.run would refuse.
    with ThreadPoolExecutor(1) as thread:
        data = thread.submit(asyncio.run, make()).result()
    return DemoReport(db, root / "out", data)
