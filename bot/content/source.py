"""Read a YAML file into plain data while remembering where every key and value came from.

PyYAML's `safe_load` forgets positions and silently keeps the last of two duplicate keys, so we
compose the node graph ourselves (composing never constructs objects, so nothing in the file is
executed) and build the data while checking what authors get wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.content.diagnostics import Diagnostic, Severity

MAX_FILE_BYTES = 512 * 1024  # a lesson is a few KB; anything this big is a mistake or an attack

_STANDARD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Place:
    """Where a value (or a key) starts, plus what we need to find a character inside a scalar."""

    line: int  # 0-based, as PyYAML counts
    col: int
    style: str | None = None  # scalar style: None (plain), "'", '"', "|", ">"
    block_indent: int = 0  # indentation of a block scalar's content lines


@dataclass
class Source:
    """A parsed YAML file: its data, where each part came from, and what went wrong."""

    path: str
    data: Any = None
    values: dict[Path, Place] = field(default_factory=dict)
    keys: dict[Path, Place] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)

    def error(self, place: Place | None, message: str) -> None:
        self._add(place, Severity.ERROR, message)

    def warning(self, place: Place | None, message: str) -> None:
        self._add(place, Severity.WARNING, message)

    def _add(self, place: Place | None, severity: Severity, message: str) -> None:
        line, col = (place.line + 1, place.col + 1) if place else (1, 1)
        self.problems.append(Diagnostic(self.path, line, col, severity, message))

    def place_of(self, path: Path, *, key: bool = False) -> Place | None:
        """The position of the value (or key) at `path`, or of its nearest known ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get(())

    def place_in_text(self, path: Path, offset: int, text: str) -> Place | None:
        """The position of character `offset` of the string at `path`, where we can tell.

        Exact for plain and quoted one-line scalars and for literal (`|`) blocks, which is how
        lesson texts are written; other styles fall back to where the scalar starts.
        """
        start = self.place_of(path)
        if start is None or start.style in (">",):
            return start
        before = text[:offset]
        line_no = before.count("\n")
        col = offset - (before.rfind("\n") + 1)
        if start.style == "|":
            return Place(start.line + 1 + line_no, start.block_indent + col)
        if line_no:
            return start
        quote = 1 if start.style in ("'", '"') else 0
        return Place(start.line, start.col + quote + col)


_SCALARS = yaml.constructor.SafeConstructor()  # turns standard-tagged scalars into values


class _NoAliasLoader(yaml.SafeLoader):
    """A safe loader that refuses aliases, so an alias bomb ("billion laughs") can't expand."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                problem="anchors and aliases (*name) are not allowed in lesson files; "
                "write the text out in full",
                problem_mark=event.start_mark,
            )
        return super().compose_node(parent, index)


def read_source(path: str, raw: bytes) -> Source:
    """Parse `raw` (the bytes of `path`) into a Source. Never raises for bad content."""
    src = Source(path)
    if len(raw) > MAX_FILE_BYTES:
        src.error(None, f"file is {len(raw)} bytes; a content file must be under {MAX_FILE_BYTES}")
        return src
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        head = raw[: exc.start]
        line = head.count(b"\n")
        col = len(head) - (head.rfind(b"\n") + 1)
        src.error(
            Place(line, col),
            "file is not UTF-8; save it as UTF-8 (in most editors: Save As, Encoding: UTF-8)",
        )
        return src
    text = text.removeprefix("\ufeff")
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        src.error(None, "file is empty; start it with `version: 1`")
        return src
    loader = _NoAliasLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Place(mark.line, mark.column) if mark else None
        problem = exc.problem or "invalid YAML"
        src.error(where, f"YAML syntax error: {problem}{_yaml_hint(problem)}")
        return src
    except yaml.YAMLError as exc:
        src.error(None, f"YAML error: {exc}")
        return src
    finally:
        loader.dispose()
    if node is None:  # only comments and document markers
        src.error(None, "file is empty; start it with `version: 1`")
        return src
    src.data = _build(node, (), src, text.splitlines())
    return src


def _yaml_hint(problem: str) -> str:
    if "mapping values are not allowed" in problem:
        return " (a text containing ': ' must be quoted, or written as a block with `|`)"
    if "found character '\\t'" in problem:
        return " (use spaces, not tabs, to indent)"
    return ""


def _place(node: yaml.Node, lines: list[str]) -> Place:
    style = getattr(node, "style", None)
    indent = 0
    if style in ("|", ">"):
        for ln in lines[node.start_mark.line + 1 :]:
            if ln.strip():
                indent = len(ln) - len(ln.lstrip(" "))
                break
    return Place(node.start_mark.line, node.start_mark.column, style, indent)


def _build(node: yaml.Node, path: Path, src: Source, lines: list[str]) -> Any:
    src.values[path] = _place(node, lines)
    if node.tag not in _STANDARD_TAGS:
        src.error(
            src.values[path],
            f"tag {node.tag!r} is not allowed; lesson files hold only plain text, numbers, "
            "lists and mappings",
        )
        return None
    if isinstance(node, yaml.ScalarNode):
        return _SCALARS.construct_object(node)
    if isinstance(node, yaml.SequenceNode):
        return [_build(child, (*path, i), src, lines) for i, child in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_place = _place(key_node, lines)
            if not isinstance(key_node, yaml.ScalarNode):
                src.error(key_place, "a key must be a plain word, like `text:`")
                continue
            key = str(key_node.value)
            if key in result:
                first = src.keys[(*path, key)]
                src.error(
                    key_place,
                    f"duplicate key '{key}' (first set on line {first.line + 1}); "
                    "remove one of them",
                )
                continue
            src.keys[(*path, key)] = key_place
            result[key] = _build(value_node, (*path, key), src, lines)
        return result
    return None
