from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true",
                     help="rewrite tests/golden/*.yaml transcripts from the current engine")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(scope="session")
def library():  # type: ignore[no-untyped-def]
    from bot.content import load_library

    lib, problems = load_library(ROOT / "lessons")
    assert not [p for p in problems if p.severity == "error"], problems
    return lib
