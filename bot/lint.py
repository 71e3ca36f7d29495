"""`lessonbot lint`: every problem in the content, as `path:line:col: severity: message`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from bot.content import Diagnostic, Severity, load_library
from bot.content.loader import COURSE_FILE, load_course


def lint_paths(paths: Iterable[str]) -> list[Diagnostic]:
    """Lint folders (a lessons folder or one course) and single files (reported alone)."""
    found: set[Diagnostic] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            course_dir = path.parent
            if not (course_dir / COURSE_FILE).is_file():
                found.add(Diagnostic(raw, 1, 1, Severity.ERROR,
                                     f"no {COURSE_FILE} beside this file; a lesson lives in a "
                                     "course folder"))
                continue
            _, problems = load_course(course_dir)
            found.update(d for d in problems if Path(d.path).resolve() == path.resolve())
        else:
            found.update(load_library(path)[1])
    return sorted(found)


def report(problems: list[Diagnostic], fmt: str, out: TextIO, err: TextIO) -> int:
    errors = sum(d.severity is Severity.ERROR for d in problems)
    if fmt == "json":
        json.dump([d.as_dict() for d in problems], out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        for problem in problems:
            out.write(f"{problem}\n")
        warnings = len(problems) - errors
        err.write(f"{errors} error(s), {warnings} warning(s)\n")
    return 1 if errors else 0
