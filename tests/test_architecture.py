"""The arrows DESIGN.md forbids, checked on the source: who may import what."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"
FRAMEWORKS = ("aiogram", "telegram")


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    return sorted((BOT / package).rglob("*.py")) if package else sorted(BOT.rglob("*.py"))


def forbidden(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    return [
        name
        for name in imports(path)
        if any(name == p or name.startswith(p + ".") for p in prefixes)
    ]


@pytest.mark.parametrize("package", ["content", "engine"])
def test_content_and_engine_stay_pure(package: str) -> None:
    bad = ("bot.store", "bot.channels", "sqlalchemy", *FRAMEWORKS)
    assert {
        str(p.relative_to(BOT)): forbidden(p, bad) for p in modules(package) if forbidden(p, bad)
    } == {}


def test_only_channels_import_a_telegram_framework() -> None:
    outside = [p for p in modules("") if "channels" not in p.relative_to(BOT).parts]
    assert {
        str(p.relative_to(BOT)): forbidden(p, FRAMEWORKS)
        for p in outside
        if forbidden(p, FRAMEWORKS)
    } == {}


def test_store_does_not_import_channels() -> None:
    assert [p.name for p in modules("store") if forbidden(p, ("bot.channels",))] == []
