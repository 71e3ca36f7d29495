"""A Babel extractor for lesson YAML, registered as the `lessonbot_yaml` extraction method.

Every learner-facing text becomes a message with context `course/lesson/step/field` (the same
key the engine asks translations for), so the same words in two places can be translated
differently, and the source line is kept for translators.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from bot.content.source import Path as DataPath
from bot.content.source import read_source

STEP_FIELDS = ("text", "button", "feedback", "error")
OPTION_FIELDS = ("label", "text", "feedback")
# The texts of a directory entry, by the file's kind; `advice` is a hotlines file's own text.
ENTRY_FIELDS = {
    "schemes": ("name", "agency", "summary", "details", "who", "how"),
    "hotlines": ("name", "agency", "use"),
}

Extracted = tuple[int, str, tuple[str, str], list[str]]


def lesson_messages(data: Any, course_id: str) -> Iterator[tuple[DataPath, str, str]]:
    """(path in the file, context, source text) for every translatable text of a file."""
    if not isinstance(data, dict):
        return
    if data.get("kind") == "course":
        for key in ("title", "description"):
            if isinstance(data.get(key), str):
                yield (key,), f"{course_id}/{key}", data[key]
        return
    kind = data.get("kind")
    if kind in ENTRY_FIELDS:
        base = f"{course_id}/{kind}/{str(data.get('country', '')).lower()}"
        if isinstance(data.get("advice"), str):
            yield ("advice",), f"{base}/advice", data["advice"]
        for i, entry in enumerate(data.get(kind) or ()):
            if not isinstance(entry, dict):
                continue
            for key in ENTRY_FIELDS[kind]:
                if isinstance(entry.get(key), str):
                    yield (kind, i, key), f"{base}/{entry.get('id')}/{key}", entry[key]
        return
    if data.get("kind") != "lesson":
        return
    base = f"{course_id}/{data.get('id')}"
    if isinstance(data.get("title"), str):
        yield ("title",), f"{base}/title", data["title"]
    for i, step in enumerate(data.get("steps") or ()):
        if not isinstance(step, dict):
            continue
        where = f"{base}/{step.get('id')}"
        for key in STEP_FIELDS:
            if isinstance(step.get(key), str):
                yield ("steps", i, key), f"{where}/{key}", step[key]
        for j, option in enumerate(step.get("options") or ()):
            if not isinstance(option, dict):
                continue
            for key in OPTION_FIELDS:
                if isinstance(option.get(key), str):
                    yield (
                        ("steps", i, "options", j, key),
                        f"{where}/options/{option.get('id')}/{key}",
                        option[key],
                    )


def extract_lessons(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[Extracted]:
    """Babel's extractor interface: yields (line, funcname, (context, text), comments)."""
    name = getattr(fileobj, "name", "")
    src = read_source(str(name), fileobj.read())
    course_id = _course_id(Path(name))
    for path, context, text in lesson_messages(src.data, course_id):
        place = src.place_of(path)
        yield (place.line + 1 if place else 0), "pgettext", (context, text), []


def _course_id(path: Path) -> str:
    """The id in course.yaml beside `path` (the folder name if that can't be read)."""
    folder = path.parent.parent if path.parent.name in ENTRY_FIELDS else path.parent
    course_file = folder / "course.yaml"
    if course_file.is_file():
        data = read_source(str(course_file), course_file.read_bytes()).data
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            return str(data["id"])
    return folder.name
