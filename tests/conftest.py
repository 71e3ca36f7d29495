from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=100, deadline=None)
settings.register_profile("deep", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite tests/golden/*.yaml transcripts from the current engine",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(scope="session")
def library():  # type: ignore[no-untyped-def]
    from bot.content import load_library

    lib, problems = load_library(ROOT / "lessons")
    assert not [p for p in problems if p.severity == "error"], problems
    return lib


@pytest.fixture
async def database_url(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A fresh, migrated database: SQLite, or PostgreSQL when TEST_DATABASE_URL is set."""
    from tests.databases import fresh_database

    async with fresh_database(tmp_path) as url:
        yield url
