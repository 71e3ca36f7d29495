"""Building the running product from settings: content, catalogs, database, service."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.content import Severity, load_library
from bot.content.loader import COURSE_FILE
from bot.errors import ConfigError
from bot.i18n import Catalogs
from bot.service import LessonService
from bot.store import LearnerStore, create_engine, upgrade

log = logging.getLogger(__name__)


def require_content(settings: Settings) -> None:
    """Refuse to serve without courses and catalogs, naming the variable to set.

    The installed package holds the engine, not the content: lessons and translations live in a
    folder that authors edit (the repository's `lessons/` and `locales/`). Without this check a
    `lessonbot` started in the wrong folder would serve an empty course list.
    """
    lessons = Path(settings.lessons_dir)
    if not (lessons / COURSE_FILE).is_file() and not any(lessons.glob(f"*/{COURSE_FILE}")):
        raise ConfigError(
            f"no courses in LESSONS_DIR={settings.lessons_dir} ({lessons.resolve()}). Set "
            "LESSONS_DIR to the folder holding your course folders, such as lessons/ in a "
            "clone of the LessonBot repository, or run lessonbot from that clone's root"
        )
    locales = Path(settings.locales_dir)
    if not any(locales.glob("*/LC_MESSAGES/*.po")):
        raise ConfigError(
            f"no translation catalogs in LOCALES_DIR={settings.locales_dir} "
            f"({locales.resolve()}). Set LOCALES_DIR to the folder holding <lang>/LC_MESSAGES/"
            "*.po, such as locales/ in a clone of the LessonBot repository"
        )


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
    return LessonService(
        library, LearnerStore(engine), catalogs, catalogs.languages(), settings.default_locale
    )
