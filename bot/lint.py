"""`lessonbot lint`: every problem in the content, as `path:line:col: severity: message`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from babel.messages.pofile import read_po

from bot.content import Diagnostic, Severity, load_library
from bot.content.loader import COURSE_FILE, load_course
from bot.content.schemes import SCHEMES_DIR
from bot.content.source import MAX_FILE_BYTES, file_problem, read_file
from bot.i18n.check import Coverage, check_catalog
from bot.i18n.extract import extract_lessons


def lint_paths(paths: Iterable[str], lessons_dir: str | None = None) -> list[Diagnostic]:
    """Lint folders (lessons, one course, or locales) and single files (reported alone)."""
    return lint(paths, lessons_dir)[0]


def lint(
    paths: Iterable[str], lessons_dir: str | None = None
) -> tuple[list[Diagnostic], list[Coverage]]:
    """Problems in `paths`, and the coverage of any translation catalogs among them.

    `lessons_dir` is what catalogs' coverage is measured against.
    """
    found: set[Diagnostic] = set()
    coverage: list[Coverage] = []
    lessons = Path(lessons_dir) if lessons_dir else None
    for raw in paths:
        path = Path(raw)
        one_locale = path.is_dir() and any(path.glob("LC_MESSAGES/*.po"))  # locales/th
        if (
            path.suffix == ".po"
            or one_locale
            or (path.is_dir() and any(path.glob("*/LC_MESSAGES/*.po")))
        ):
            root = (
                path.parent.parent.parent
                if path.suffix == ".po"
                else path.parent
                if one_locale
                else path
            )
            problems, covered = lint_catalogs(root, lessons)
            if path.suffix == ".po":
                found.update(d for d in problems if Path(d.path).resolve() == path.resolve())
                coverage += [
                    c
                    for c in covered
                    if (c.locale, c.domain) == (path.parent.parent.name, path.stem)
                ]
            else:
                locale = path.name if one_locale else None
                found.update(
                    d
                    for d in problems
                    if locale is None or Path(d.path).resolve().is_relative_to(path.resolve())
                )
                coverage += [c for c in covered if locale is None or c.locale == locale]
        elif path.suffix in (".yaml", ".yml") and file_problem(path) is not None:
            # A link to nowhere, a folder named `*.yaml`, a huge file: say so on its path.
            found.update(read_file(path).problems)
        elif _is_broadcast(path):
            found.update(_lint_broadcasts(path, lessons))
        elif path.is_file():
            course_dir = path.parent
            if course_dir.name == SCHEMES_DIR:  # a schemes file belongs to the course above
                course_dir = course_dir.parent
            if not (course_dir / COURSE_FILE).is_file():
                found.add(
                    Diagnostic(
                        raw,
                        1,
                        1,
                        Severity.ERROR,
                        f"no {COURSE_FILE} beside this file; a lesson lives in a course folder",
                    )
                )
                continue
            _, problems = load_course(course_dir)
            found.update(d for d in problems if Path(d.path).resolve() == path.resolve())
        else:
            found.update(load_library(path)[1])
    return sorted(found), coverage


def report(
    problems: list[Diagnostic],
    fmt: str,
    out: TextIO,
    err: TextIO,
    coverage: Iterable[Coverage] = (),
) -> int:
    errors = sum(d.severity is Severity.ERROR for d in problems)
    if fmt == "json":
        json.dump([d.as_dict() for d in problems], out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        for problem in problems:
            out.write(f"{problem}\n")
        for covered in coverage:
            err.write(f"{covered}\n")
        warnings = len(problems) - errors
        err.write(f"{errors} error(s), {warnings} warning(s)\n")
    return 1 if errors else 0


def lint_catalogs(
    locales_dir: Path, lessons_dir: Path | None
) -> tuple[list[Diagnostic], list[Coverage]]:
    """Every catalog under `locales_dir`; lesson coverage is measured against the lessons."""
    expected_lessons = current_lesson_messages(lessons_dir) if lessons_dir else None
    problems: list[Diagnostic] = []
    coverage: list[Coverage] = []
    for po in sorted(locales_dir.glob("*/LC_MESSAGES/*.po")):
        expected = expected_lessons if po.stem == "lessons" else _template_keys(po)
        found, covered = check_catalog(po, expected)
        problems += found
        if covered is not None:
            coverage.append(covered)
    return problems, coverage


def current_lesson_messages(lessons_dir: Path) -> set[tuple[str | None, str]]:
    """(context, source) of every translatable lesson text as the lessons are today."""
    keys: set[tuple[str | None, str]] = set()
    for path in sorted(lessons_dir.glob("**/*.yaml")):
        if file_problem(path) is not None:
            continue  # unreadable or too big: linting the lessons reports it on that file
        with path.open("rb") as handle:
            keys.update(
                (ctx, text) for _, _, (ctx, text), _ in extract_lessons(handle, None, None, {})
            )
    return keys


def _template_keys(po: Path) -> set[tuple[str | None, str]] | None:
    """The entries of the domain's `.pot` beside the locale folders, if there is one."""
    pot = po.parent.parent.parent / f"{po.stem}.pot"
    if not pot.is_file():
        return None
    with pot.open("rb") as handle:
        return {(m.context, str(m.id)) for m in read_po(handle) if m.id}


def _is_broadcast(path: Path) -> bool:
    """A broadcast file, or a folder of them (told apart from lessons by `kind:`).

    Only the files that can be read decide: a link to nowhere or a folder named `*.yaml`
    among the broadcasts is reported as an error on its own path, not taken for a lesson
    (nor is a folder holding nothing else; it has no course.yaml either).
    """
    files = [path] if path.is_file() else sorted(path.glob("*.yaml")) if path.is_dir() else []
    if path.is_dir() and (path / COURSE_FILE).exists():
        return False
    readable = [f for f in files if file_problem(f) is None]
    return bool(files) and all(_kind(f) == "broadcast" for f in readable)


def _kind(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            head = handle.read(MAX_FILE_BYTES)  # never more than a content file may hold
    except OSError:
        return ""
    for line in head.decode("utf-8", errors="replace").splitlines():
        if line.startswith("kind:"):
            return line.partition(":")[2].strip()
    return ""


def _lint_broadcasts(path: Path, lessons: Path | None) -> list[Diagnostic]:
    from bot.broadcast.message import load_broadcast

    library = load_library(lessons)[0] if lessons else None
    files = [path] if path.is_file() else sorted(path.glob("*.yaml"))
    return [d for f in files for d in load_broadcast(f, library)[1]]
