"""Turn pydantic's validation errors into author-friendly messages at the right line and column."""

from __future__ import annotations

import difflib
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.content.model import FORMAT_VERSION, known_keys
from bot.content.source import Path, Source

M = TypeVar("M", bound=BaseModel)

_KNOWN_KEYS = sorted(known_keys())
_STEP_TYPES = ["message", "question", "choice", "input", "survey", "end"]


def validate(src: Source, model: type[M]) -> M | None:
    """Validate `src.data` against `model`, recording every problem in `src`."""
    data = src.data
    if data is None and src.problems:
        return None  # the file couldn't be read; its one error already says why
    if not isinstance(data, dict):
        src.error(
            src.place_of(()),
            "the file must be a set of `key: value` lines, starting with `version: 1`",
        )
        return None
    version = data.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        src.error(
            src.place_of(("version",)),
            f"this file uses format version {version}, but this LessonBot reads up to version "
            f"{FORMAT_VERSION}; upgrade LessonBot (pip install -U lessonbot) or write "
            f"`version: {FORMAT_VERSION}`",
        )
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        seen: set[Path] = set()
        for err in exc.errors(include_url=False):
            path = _data_path(data, tuple(err["loc"]))
            # A refused tag was already reported; its value is left out, so don't also call it
            # missing or wrong. One error per value is enough: a value that fits no member of a
            # union (`str | list[str]`) gets one error per member.
            if _under_refused(src, path) or path in seen:
                continue
            seen.add(path)
            _report(src, path, err)
        return None


def _under_refused(src: Source, path: Path) -> bool:
    return any(path[: len(refused)] == refused for refused in src.refused)


def _data_path(data: Any, loc: tuple[str | int, ...]) -> Path:
    """Pydantic's `loc` with the entries that aren't in the data (union tags) left out."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part == loc[-1]:
            pass  # a missing or unknown key: keep it so we can name it
        else:
            continue
        path.append(part)
    return tuple(path)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _report(src: Source, path: Path, err: Any) -> None:
    kind = err["type"]
    name = str(path[-1]) if path else ""
    # A bad key of a free-form mapping (`when: {Country: ID}`) is the key's fault, not its value's.
    # (a whole-file rule, such as a hotlines file's "lines or advice", has no `loc` at all)
    at = src.place_of(path, key=bool(err["loc"]) and err["loc"][-1] == "[key]")
    if kind == "missing":
        src.error(src.place_of(path[:-1]), f"missing required key `{name}:`")
    elif kind == "extra_forbidden":
        src.error(
            src.place_of(path, key=True),
            f"unknown key `{name}`{_suggest(name, _KNOWN_KEYS)}",
        )
    elif kind == "union_tag_not_found":
        src.error(src.place_of(path), f"this step needs `type:`, one of {', '.join(_STEP_TYPES)}")
    elif kind == "union_tag_invalid":
        tag = str(err["ctx"].get("tag", ""))
        src.error(
            src.place_of((*path, "type")),
            f"unknown step type `{tag}`{_suggest(tag, _STEP_TYPES)}; "
            f"use one of {', '.join(_STEP_TYPES)}",
        )
    elif kind == "string_pattern_mismatch":
        src.error(at, f"`{err['input']}` is not valid here: {_pattern_help(path)}")
    elif kind == "literal_error":
        expected = err["ctx"].get("expected", "")
        src.error(at, f"`{name}` must be {expected}")
    elif kind == "value_error":  # a rule of the model's own, already worded for authors
        src.error(at, str(err["ctx"]["error"]))
    else:
        msg = f"{err['msg']}{_quote_hint(err)}"
        src.error(at, f"`{name}`: {msg}" if name else msg)


def _quote_hint(err: Any) -> str:
    """YAML reads unquoted `yes`, `2024-01-01` or `42` as a bool, date or number, not text."""
    if err["type"] != "string_type":
        return ""
    value = err["input"]
    if isinstance(value, bool):
        read_as = "true/false"
    elif isinstance(value, int | float):
        read_as = "a number"
    elif isinstance(value, date):  # datetime is a date too
        read_as = "a date"
    else:
        return ""
    return f' (YAML read this as {read_as}; put it in quotes: "...")'


def _pattern_help(path: Path) -> str:
    if "countries" in path:
        return "use a two-letter country code in capitals, like ID or PH"
    if path and path[-1] == "field":
        return "use lower_snake_case starting with a letter, like business_type"
    if "when" in path:
        return "a condition names a learner field in lower_snake_case, like `country`"
    return "use lower-case letters, digits and '-', at most 32 characters, like `intro-2`"
