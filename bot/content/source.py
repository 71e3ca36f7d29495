"""Read a YAML file into plain data while remembering where every key and value came from.

PyYAML's `safe_load` forgets positions and silently keeps the last of two duplicate keys, so we
compose the node graph ourselves (composing never constructs objects, so nothing in the file is
executed) and build the data while checking what authors get wrong.
"""

from __future__ import annotations

import os
import stat
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
    # A date is never valid content, but building it lets validation say "put it in quotes"
    # for `text: 2024-01-01` instead of calling an unquoted date a forbidden tag.
    "tag:yaml.org,2002:timestamp",
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
    # Paths whose tag was refused: their data is left out, so validation must not also complain
    # that it is missing or of the wrong type there.
    refused: set[Path] = field(default_factory=set)
    lines: list[str] = field(default_factory=list, repr=False)  # the file's text, for columns
    raw: bytes = field(default=b"", repr=False)  # the bytes parsed, so nobody reads them again

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
        if start.style in ("'", '"'):
            raw_col = self._quoted_col(start, offset)
            return start if raw_col is None else Place(start.line, raw_col)
        before = text[:offset]
        line_no = before.count("\n")
        col = offset - (before.rfind("\n") + 1)
        if start.style == "|":
            return Place(start.line + 1 + line_no, start.block_indent + col)
        if line_no:
            return start
        return Place(start.line, start.col + col)

    def _quoted_col(self, start: Place, offset: int) -> int | None:
        """The file column of character `offset` of the quoted scalar opening at `start`.

        Escapes make the file longer than the value (`\\"` is one character, so is `''`), so
        we walk the raw line decoding them. None if the line doesn't match what we expect
        (say the scalar continues on the next line); the caller then points at its start.
        """
        if start.line >= len(self.lines):
            return None
        line = self.lines[start.line]
        col = start.col + 1  # just after the opening quote
        for _ in range(offset):
            if col >= len(line):
                return None
            if start.style == "'" and line.startswith("''", col):
                col += 2
            elif start.style == '"' and line[col] == "\\":
                col += 2 + _ESCAPE_DIGITS.get(line[col + 1 : col + 2], 0)
            else:
                col += 1
        return col if col < len(line) else None


# How many hex digits follow `\x`, `\u` and `\U` in a double-quoted scalar.
_ESCAPE_DIGITS = {"x": 2, "u": 4, "U": 8}


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


def _too_big(size: int) -> str:
    return f"file is {size} bytes; a content file must be under {MAX_FILE_BYTES}"


def file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the content file at `path` can't be read, found before reading it; None if it can.

    The size comes from `stat`, so a huge file (a 6 GB sparse one costs no disk) is refused
    without being read into memory. A link that leads nowhere and a folder named `*.yaml` get
    a message saying what to do, not a crash.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return (
                f"this is a link to `{os.readlink(path)}`, which does not exist; point the "
                "link at an existing file, or delete it"
            )
        return "no such file; check the name and the folder"
    except OSError as exc:  # a loop of links, no permission
        return f"cannot read file: {exc.strerror}; fix the file (or the link) or delete it"
    except ValueError:
        return "the file name has a character no file name can hold; rename it"
    if stat.S_ISDIR(info.st_mode):
        return (
            "this is a folder, not a file, but its name ends in .yaml; rename the folder "
            "(or delete it) so only content files end in .yaml"
        )
    if not stat.S_ISREG(info.st_mode):
        return "this is not a regular file (a device or a pipe?); replace it with a text file"
    if info.st_size > MAX_FILE_BYTES:
        return _too_big(info.st_size)
    return None


def read_file(path: str | os.PathLike[str]) -> Source:
    """Read and parse the content file at `path`: its size is checked before it is read.

    Never raises for a bad or unreadable file; the Source's problems say what is wrong.
    """
    problem = file_problem(path)
    if problem is None:
        try:
            with open(path, "rb") as handle:
                # Never more than the limit (and one byte to tell), even if the file has
                # grown since it was measured.
                raw = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            problem = f"cannot read file: {exc.strerror}; fix the file (or the link) or delete it"
        else:
            return read_source(os.fspath(path), raw)
    src = Source(os.fspath(path))
    src.error(None, problem)
    return src


def read_source(path: str, raw: bytes) -> Source:
    """Parse `raw` (the bytes of `path`) into a Source. Never raises for bad content."""
    src = Source(path)
    if len(raw) > MAX_FILE_BYTES:
        src.error(None, _too_big(len(raw)))
        return src
    src.raw = raw
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
    try:
        loader = _NoAliasLoader(text)
    except yaml.reader.ReaderError as exc:  # a character YAML forbids, found before parsing
        before = text[: exc.position]
        src.error(
            Place(before.count("\n"), len(before) - (before.rfind("\n") + 1)),
            f"character U+{exc.character:04X} is not allowed here (an invisible control "
            "character, often pasted from another program); delete it",
        )
        return src
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        _yaml_error(src, exc, text)
        return src
    except yaml.YAMLError as exc:
        src.error(None, f"YAML error: {exc}")
        return src
    finally:
        loader.dispose()
    if node is None:  # only comments and document markers
        src.error(None, "file is empty; start it with `version: 1`")
        return src
    src.lines = text.splitlines()
    src.data = _build(node, (), src, src.lines)
    return src


def _yaml_error(src: Source, exc: yaml.MarkedYAMLError, text: str) -> None:
    runaway = _runaway_quote(exc, text)
    if runaway is not None:
        mark, what = runaway
        src.error(
            Place(mark.line, mark.column),
            f"YAML syntax error: {what}; close it with the same quote on the same line, or use `|`",
        )
        return
    problem = exc.problem or "invalid YAML"
    at = exc.problem_mark or exc.context_mark
    where = Place(at.line, at.column) if at else None
    src.error(where, f"YAML syntax error: {problem}{_yaml_hint(problem)}")


def _runaway_quote(exc: yaml.MarkedYAMLError, text: str) -> tuple[yaml.Mark, str] | None:
    """Where a quote that isn't closed on its own line opened, and what went wrong with it.

    Such a quote runs on to the next quote in the file, or to its end, and PyYAML only stumbles
    there, often far below; the author needs to see where the quote opened.
    """
    if exc.context_mark and "while scanning a quoted scalar" in (exc.context or ""):
        return exc.context_mark, "this quote is never closed"
    error_mark = exc.problem_mark
    if error_mark is None or not isinstance(
        exc, yaml.scanner.ScannerError | yaml.parser.ParserError
    ):
        return None
    runaway = None  # the last quoted text spanning lines before the error
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= error_mark.index:
                break
            if (
                isinstance(token, yaml.ScalarToken)
                and token.style in ("'", '"')
                and token.end_mark.line > token.start_mark.line
            ):
                runaway = token
    except yaml.YAMLError:
        pass  # the error we are explaining
    if runaway is None:
        return None
    return runaway.start_mark, (
        "this quote is not closed on its line, so the text runs on to "
        f"line {runaway.end_mark.line + 1}"
    )


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


def _refused(node: yaml.Node, place: Place, path: Path, src: Source) -> bool:
    """Refuse a non-standard tag (`!!python/...` would run code if ever constructed)."""
    if node.tag in _STANDARD_TAGS:
        return False
    src.error(
        place,
        f"tag {node.tag!r} is not allowed; lesson files hold only plain text, "
        "numbers, lists and mappings",
    )
    src.refused.add(path)
    return True


def _build(node: yaml.Node, path: Path, src: Source, lines: list[str]) -> Any:
    src.values[path] = _place(node, lines)
    if _refused(node, src.values[path], path, src):
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
            if _refused(key_node, key_place, (*path, key), src):
                continue
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
