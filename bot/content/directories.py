"""A course's directories of real services, one file per country: `schemes/<cc>.yaml` (the
government programmes /schemes shows) and `hotlines/<cc>.yaml` (the reporting lines /scammed
shows).

These entries are facts that learners act on, so each names its official site, the official page
that confirms it and the date someone checked it. Lint warns when that date is old and when a
link is not on an official domain: a course that teaches "trust official sites" must cite them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

from bot.content.model import HotlineFile, SchemeFile, _Checked
from bot.content.official import is_official
from bot.content.source import Source, read_file
from bot.content.validate import validate

SCHEMES_DIR = "schemes"
HOTLINES_DIR = "hotlines"
DIRECTORY_DIRS = (SCHEMES_DIR, HOTLINES_DIR)
STALE_AFTER_DAYS = 180

F = TypeVar("F", SchemeFile, HotlineFile)


@dataclass(frozen=True)
class Directories:
    schemes: tuple[SchemeFile, ...] = ()
    hotlines: tuple[HotlineFile, ...] = ()


def load_directories(course_dir: Path, today: date) -> tuple[Directories, list[Source]]:
    """The directory files that validate, and every file's source (with its problems)."""
    sources: list[Source] = []
    schemes = _load(course_dir / SCHEMES_DIR, SchemeFile, sources, today)
    hotlines = _load(course_dir / HOTLINES_DIR, HotlineFile, sources, today)
    return Directories(tuple(schemes), tuple(hotlines)), sources


def _load(folder: Path, model: type[F], sources: list[Source], today: date) -> list[F]:
    found: list[F] = []
    for path in sorted(folder.glob("*.yaml")):
        src = read_file(path)  # its size checked first; a broken link is an error, not a crash
        sources.append(src)
        directory = validate(src, model)
        if directory is None:
            continue
        if path.stem.upper() != directory.country:
            src.error(
                src.place_of(("country",)),
                f"this file is for {path.stem.upper()}, but says `country: "
                f"{directory.country}`; rename the file or fix the code",
            )
            continue
        key = folder.name
        entries: tuple[_Checked, ...] = getattr(directory, key)
        for i, entry in enumerate(entries):
            _check_entry(src, (key, i), entry, today)
        found.append(directory)
    return found


def _check_entry(src: Source, at: tuple[str, int], entry: _Checked, today: date) -> None:
    age = (today - entry.last_verified).days
    if age > STALE_AFTER_DAYS:
        src.warning(
            src.place_of((*at, "last_verified")),
            f"`{entry.id}` was last checked {age} days ago; check its source "
            "again and update `last_verified`",
        )
    elif age < 0:
        src.error(
            src.place_of((*at, "last_verified")),
            f"`{entry.id}` says it was checked in the future ({entry.last_verified})",
        )
    for key in ("url", "source"):
        link = getattr(entry, key)
        if not is_official(link):
            src.warning(
                src.place_of((*at, key)),
                f"`{entry.id}`'s {key} {link} is not on an official domain; link the "
                "agency's own page (a government domain such as .gov.my or .go.th), or add "
                "the body's domain to bot/content/official.py with who runs it",
            )
