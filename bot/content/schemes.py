"""A course's directory of real government programmes: `<course>/schemes/<cc>.yaml`.

These entries are facts about real programmes that learners may act on, so each names its
official site and source and the date someone checked it; lint warns when that is too old.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.content.model import SchemeFile
from bot.content.source import Source, read_file
from bot.content.validate import validate

SCHEMES_DIR = "schemes"
STALE_AFTER_DAYS = 180


def load_schemes(course_dir: Path, today: date) -> tuple[list[SchemeFile], list[Source]]:
    """The directories that validate, and every file's source (with its problems)."""
    found: list[SchemeFile] = []
    sources: list[Source] = []
    for path in sorted((course_dir / SCHEMES_DIR).glob("*.yaml")):
        src = read_file(path)  # its size checked first; a broken link is an error, not a crash
        sources.append(src)
        directory = validate(src, SchemeFile)
        if directory is None:
            continue
        if path.stem.upper() != directory.country:
            src.error(
                src.place_of(("country",)),
                f"this file is for {path.stem.upper()}, but says `country: "
                f"{directory.country}`; rename the file or fix the code",
            )
            continue
        for i, scheme in enumerate(directory.schemes):
            age = (today - scheme.last_verified).days
            if age > STALE_AFTER_DAYS:
                src.warning(
                    src.place_of(("schemes", i, "last_verified")),
                    f"`{scheme.id}` was last checked {age} days ago; check its source "
                    "again and update `last_verified`",
                )
            elif age < 0:
                src.error(
                    src.place_of(("schemes", i, "last_verified")),
                    f"`{scheme.id}` says it was checked in the future ({scheme.last_verified})",
                )
        found.append(directory)
    return found, sources
