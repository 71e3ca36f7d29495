from __future__ import annotations

import asyncio
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With DATABASE_TESTS_ONLY=1 (the PostgreSQL run of .ci/run), only the tests that use the
    database under test (`database_url`): every other test does the same on any backend, and
    the run on SQLite had it already."""
    if not os.environ.get("DATABASE_TESTS_ONLY"):
        return
    chosen = [item for item in items if "database_url" in getattr(item, "fixturenames", ())]
    kept = set(map(id, chosen))
    config.hook.pytest_deselected(items=[item for item in items if id(item) not in kept])
    items[:] = chosen


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


@pytest.fixture(autouse=True)
def _async_tests_leave_no_task(request: pytest.FixtureRequest) -> None:
    """An async test fails if it leaves a task running on its loop: a bot that was stopped
    must have stopped everything it started. (A broadcast left draining after `serve` had
    returned once disposed of its own engine under it.) Sync tests may run loops of their
    own, so only async tests are checked."""
    if request.node.get_closest_marker("asyncio") is not None:
        request.getfixturevalue("_no_task_left")


@pytest.fixture
async def _no_task_left(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield
    await asyncio.sleep(0)  # let tasks that were just cancelled finish
    me = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    assert not left, f"{request.node.nodeid} left tasks running: {left}"
