"""`lessonbot report` and `lessonbot demo-data`: settings in, files or demo rows out."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.content import Severity, load_library
from bot.content.library import Library
from bot.errors import ConfigError
from bot.report.programme import Period
from bot.store import create_engine, upgrade


def _library(settings: Settings) -> Library:
    library, problems = load_library(settings.lessons_dir)
    for problem in problems:
        if problem.severity is Severity.ERROR:
            print(f"warning: {problem} (that file is left out)", file=sys.stderr)
    if not library.courses:
        raise ConfigError(
            f"no courses in {settings.lessons_dir!r}; set LESSONS_DIR to the "
            "folder that holds the course folders"
        )
    return library


async def _migrate(url: str) -> None:
    """The embedded SQLite database is migrated automatically, as `chat` and `run` do."""
    if make_url(url).get_backend_name() != "sqlite":
        return
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def report(
    settings: Settings,
    out: Path,
    channel: str | None = None,
    *,
    period: Period | None = None,
    programme: str = "",
    costs: Path | None = None,
    excel: bool = False,
) -> int:
    """`lessonbot report`; with `channel`, about that channel's learners only; with `period`,
    about the learners who first wrote in it.

    `channel` is a name as stored or as the page shows it: "whatsapp" or "WhatsApp", "console"
    or "Terminal". A channel whose learner count the full report hides is refused
    (`ReportRefused`, a LessonBotError: the command line prints it and exits with 2), and so
    is a costs file that is not as docs/report.md describes.
    """
    from bot.report import labels
    from bot.report.build import reader, write_report
    from bot.report.programme import load_costs

    library = _library(settings)
    spent = load_costs(costs) if costs is not None else None
    await _migrate(settings.database_url)
    engine = reader(settings.database_url)
    code = None if channel is None else labels.channel_code(channel)
    try:
        written = await write_report(
            engine,
            library,
            out,
            datetime.now(UTC),
            channel=code,
            period=period,
            programme=programme,
            costs=spent,
            excel=excel,
        )
    finally:
        await engine.dispose()
    for path in written:
        print(path)
    return 0


async def demo_data(
    settings: Settings, learners: int, seed: int, force: bool, effect: float
) -> int:
    from bot.report import demo

    if learners < 1:
        raise ConfigError("--learners must be at least 1")
    library = _library(settings)
    await _migrate(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        summary = await demo.generate(
            engine, library, learners, seed, now, force=force, effect=effect
        )
    finally:
        await engine.dispose()
    print(f"wrote {', '.join(demo.describe(summary))} to {settings.database_url}")
    return 0
