"""`lessonbot lint`: every problem in the content, as `path:line:col: severity: message`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from babel.messages.pofile import read_po

from bot.channels import fit
from bot.channels.templates import KIND as TEMPLATES_KIND
from bot.channels.templates import load_templates
from bot.content import Diagnostic, Library, Severity, load_library
from bot.content.audio import AUDIO_DIR
from bot.content.directories import DIRECTORY_DIRS
from bot.content.loader import COURSE_FILE, load_course
from bot.content.source import MAX_FILE_BYTES, file_problem, read_file
from bot.i18n.check import Coverage, check_catalog
from bot.i18n.extract import extract_lessons


def lint_paths(paths: Iterable[str], lessons_dir: str | None = None) -> list[Diagnostic]:
    """Lint folders (lessons, one course, or locales) and single files (reported alone)."""
    return lint(paths, lessons_dir)[0]


def lint(
    paths: Iterable[str], lessons_dir: str | None = None, default_locale: str = "en"
) -> tuple[list[Diagnostic], list[Coverage]]:
    """Problems in `paths`, and the coverage of any translation catalogs among them.

    `lessons_dir` is what catalogs' coverage (and their labels' fit in each app) is measured
    against. The shipped locales a template file is checked against are `default_locale` and
    the catalogs' locales (those among `paths`, else the `locales/` beside `templates/`).
    """
    paths = list(paths)
    found: set[Diagnostic] = set()
    coverage: list[Coverage] = []
    lessons = Path(lessons_dir) if lessons_dir else None
    loaded: dict[Path, tuple[Library, list[Diagnostic]]] = {}

    catalog_roots = [r for r in map(_catalog_root, map(Path, paths)) if r is not None]

    def shipped_beside(folder: Path) -> set[str] | None:
        """The locales a course's recorded clips may be in: the catalogs' among `paths`, else
        those of the `locales/` beside the lessons (None if neither is there)."""
        near = [folder.parent / "locales", folder.parent.parent / "locales"]
        return _shipped(catalog_roots or [p for p in near if p.is_dir()][:1], default_locale)

    def library_of(folder: Path) -> tuple[Library, list[Diagnostic]]:
        """Each folder's lessons are loaded once, however many paths need them."""
        key = folder.resolve()
        if key not in loaded:
            loaded[key] = load_library(folder, locales=shipped_beside(folder))
        return loaded[key]

    for raw in paths:
        path = Path(raw)
        registry = path / TEMPLATES_FILE[1] / TEMPLATES_FILE[0]
        if path.is_dir() and registry.is_file():  # the repository's root: its templates too
            found.update(_lint_templates(registry, catalog_roots, default_locale))
        one_locale = path.is_dir() and any(path.glob("LC_MESSAGES/*.po"))  # locales/th
        root = _catalog_root(path)
        if root is not None:
            problems, covered = lint_catalogs(
                root, lessons, library_of(lessons)[0] if lessons else None
            )
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
        elif _is_templates(path):
            files = [path] if path.is_file() else _template_files(path)
            for file in files:
                found.update(_lint_templates(file, catalog_roots, default_locale))
        elif _is_broadcast(path):
            found.update(_lint_broadcasts(path, lessons))
        elif path.is_file():
            course_dir = path.parent
            if course_dir.name in DIRECTORY_DIRS:  # a directory file belongs to the course above
                course_dir = course_dir.parent
            clip_of = _course_of_clip(path)
            if clip_of is not None:  # audio/<locale>/<lesson>/<step>.ogg: its course's clip
                course_dir = clip_of
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
            course, problems = load_course(course_dir, locales=shipped_beside(course_dir))
            if course is not None:
                problems += fit.check_lessons(Library((course,)))
            found.update(d for d in problems if Path(d.path).resolve() == path.resolve())
        else:
            library, problems = library_of(path)
            # A template registry below (the repository's root) is linted as one, not as a
            # folder of lessons without its course.yaml.
            found.update(d for d in problems if not _registry_taken_for_lessons(d))
            found.update(fit.check_lessons(library))
    return sorted(found), coverage


def _course_of_clip(path: Path) -> Path | None:
    """The course folder of a recorded clip (bot/content/audio.py), if `path` is one."""
    for folder in path.parents:
        if folder.name == AUDIO_DIR and (folder.parent / COURSE_FILE).is_file():
            return folder.parent
    return None


def _catalog_root(path: Path) -> Path | None:
    """The locales folder of a catalog path (a `.po` file, one locale's folder, or the folder
    of all locales); None if `path` is no catalog."""
    if path.suffix == ".po":
        return path.parent.parent.parent
    if path.is_dir() and any(path.glob("LC_MESSAGES/*.po")):  # locales/th
        return path.parent
    if path.is_dir() and any(path.glob("*/LC_MESSAGES/*.po")):
        return path
    return None


def _shipped(roots: Iterable[Path], default_locale: str) -> set[str] | None:
    """The locales the bot ships: the default and each catalog's (Catalogs.locales); None if no
    catalogs can be found, so nothing can be said about which locales are shipped."""
    found = {po.parent.parent.name for root in roots for po in root.glob("*/LC_MESSAGES/*.po")}
    return {default_locale, *found} if found else None


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
    locales_dir: Path, lessons_dir: Path | None, library: Library | None = None
) -> tuple[list[Diagnostic], list[Coverage]]:
    """Every catalog under `locales_dir`; lesson coverage is measured against the lessons, and
    the translated labels are checked against every app (`library`: the lessons, if loaded)."""
    expected_lessons = current_lesson_messages(lessons_dir) if lessons_dir else None
    problems: list[Diagnostic] = []
    coverage: list[Coverage] = []
    if lessons_dir is not None:  # how the translated labels fit in each app
        library = library or load_library(lessons_dir)[0]
        problems += fit.check_translations(library, locales_dir)
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


def _lint_templates(file: Path, catalog_roots: list[Path], default_locale: str) -> list[Diagnostic]:
    """A template registry's problems, against the locales the bot ships."""
    shipped = _shipped(catalog_roots or [file.parent.parent / "locales"], default_locale)
    return load_templates(file, shipped=shipped)[1]


def _registry_taken_for_lessons(problem: Diagnostic) -> bool:
    return problem.message.startswith(f"no {COURSE_FILE} in this folder") and _is_templates(
        Path(problem.path)
    )


def _is_templates(path: Path) -> bool:
    """A template registry (`kind: whatsapp-templates`, or `templates/whatsapp.yaml` however
    broken), or a folder of them."""
    if path.is_dir():
        return not (path / COURSE_FILE).exists() and bool(_template_files(path))
    return path.is_file() and (
        _kind(path) == TEMPLATES_KIND or (path.name, path.parent.name) == TEMPLATES_FILE
    )


TEMPLATES_FILE = ("whatsapp.yaml", "templates")


def _template_files(folder: Path) -> list[Path]:
    return [f for f in sorted(folder.glob("*.yaml")) if _is_templates(f)]


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
