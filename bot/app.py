"""Building the running product from settings: content, catalogs, database, service."""

from __future__ import annotations

import logging

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.content import Severity, load_library
from bot.i18n import Catalogs
from bot.service import LessonService
from bot.store import LearnerStore, create_engine, upgrade

log = logging.getLogger(__name__)


async def open_database(settings: Settings) -> AsyncEngine:
    """The database engine; the embedded SQLite database is migrated automatically."""
    engine = create_engine(settings.database_url)
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        await upgrade(engine)
    return engine


def build_service(settings: Settings, engine: AsyncEngine) -> LessonService:
    library, problems = load_library(settings.lessons_dir)
    for problem in problems:
        # The files with errors are left out; the bot serves the rest. Authors run `lint`.
        level = logging.ERROR if problem.severity is Severity.ERROR else logging.DEBUG
        log.log(level, "%s", problem)
    catalogs = Catalogs(settings.locales_dir, settings.default_locale)
    return LessonService(library, LearnerStore(engine), catalogs, catalogs.languages(),
                         settings.default_locale)
