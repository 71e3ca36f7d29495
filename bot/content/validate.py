"""Turn pydantic's validation errors into author-friendly messages at the right line and column."""

from __future__ import annotations

import difflib
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
    if not isinstance(data, dict):
        src.error(src.place_of(()), "the file must be a set of `key: value` lines, "
                  "starting with `version: 1`")
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
        for err in exc.errors(include_url=False):
            _report(src, err)
        return None


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


def _report(src: Source, err: Any) -> None:
    path = _data_path(src.data, tuple(err["loc"]))
    kind = err["type"]
    name = str(path[-1]) if path else ""
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
        src.error(src.place_of(path), f"`{err['input']}` is not valid here: {_pattern_help(path)}")
    elif kind == "literal_error":
        expected = err["ctx"].get("expected", "")
        src.error(src.place_of(path), f"`{name}` must be {expected}")
    else:
        src.error(src.place_of(path), f"`{name}`: {err['msg']}" if name else err["msg"])


def _pattern_help(path: Path) -> str:
    if "countries" in path:
        return "use a two-letter country code in capitals, like ID or PH"
    if path and path[-1] == "field":
        return "use lower_snake_case starting with a letter, like business_type"
    if "when" in path:
        return "a condition names a learner field in lower_snake_case, like `country`"
    return "use lower-case letters, digits and '-', at most 32 characters, like `intro-2`"
