"""Load `lessons/` into a Library, collecting every problem instead of stopping at the first.

A file with errors is left out of the Library; the files that are fine still load, so one typo
never takes the whole bot down.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import date
from pathlib import Path
from types import MappingProxyType

from bot.content import text as tx
from bot.content.audio import find_clips
from bot.content.checks import check_lesson
from bot.content.diagnostics import Diagnostic, Severity
from bot.content.directories import load_directories
from bot.content.library import Library, LoadedCourse, LoadedLesson
from bot.content.model import ChoiceStep, Course, InputStep, Lesson
from bot.content.source import Source, read_file
from bot.content.validate import validate

COURSE_FILE = "course.yaml"


def load_library(
    content_dir: str | Path, locales: Collection[str] | None = None
) -> tuple[Library, list[Diagnostic]]:
    """Load every course folder under `content_dir` (or `content_dir` itself if it is one).

    `locales`: the locales the bot ships, if known, which a course's recorded clips must be in.
    """
    root = Path(content_dir)
    problems: list[Diagnostic] = []
    if (root / COURSE_FILE).is_file():
        course_dirs = [root]
    elif root.is_dir():
        course_dirs = sorted(p.parent for p in root.glob(f"*/{COURSE_FILE}"))
        problems.extend(_folders_without_course(root))
        if not course_dirs and not problems:
            problems.append(
                Diagnostic(
                    str(root),
                    1,
                    1,
                    Severity.ERROR,
                    f"nothing to check here: no folder with a {COURSE_FILE} "
                    "(see docs/lesson-format.md)",
                )
            )
    else:
        # Neutral: the path may come from LESSONS_DIR or from the command line.
        return Library(()), [
            Diagnostic(
                str(root),
                1,
                1,
                Severity.ERROR,
                "no such folder; name an existing folder, or set "
                "LESSONS_DIR (LOCALES_DIR for catalogs) to yours",
            )
        ]
    courses: list[LoadedCourse] = []
    for course_dir in course_dirs:
        course, found = load_course(course_dir, locales=locales)
        problems.extend(found)
        if course is not None:
            courses.append(course)
    return Library(tuple(courses)), sorted(problems)


def _folders_without_course(root: Path) -> list[Diagnostic]:
    """`root` and its folders holding YAML files but no course.yaml: their lessons are ignored."""
    found = []
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for folder in [root, *subfolders]:
        yaml_files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
        if yaml_files and not (folder / COURSE_FILE).is_file():
            found.append(
                Diagnostic(
                    str(yaml_files[0]),
                    1,
                    1,
                    Severity.ERROR,
                    f"no {COURSE_FILE} in this folder, so these lessons are "
                    "ignored; add one (see docs/lesson-format.md)",
                )
            )
    return found


def load_course(
    course_dir: Path, today: date | None = None, locales: Collection[str] | None = None
) -> tuple[LoadedCourse | None, list[Diagnostic]]:
    # Each file's size is checked before it is read; a link to nowhere, or a folder named
    # `*.yaml`, is an error on that file and the others still load.
    course_src = read_file(course_dir / COURSE_FILE)
    course = validate(course_src, Course)
    lesson_srcs = [read_file(p) for p in sorted(course_dir.glob("*.yaml")) if p.name != COURSE_FILE]
    lessons = {id(src): validate(src, Lesson) for src in lesson_srcs}
    known = tx.BUILTIN_PLACEHOLDERS | {
        step.field
        for lesson in lessons.values()
        if lesson
        for step in lesson.steps
        if isinstance(step, InputStep)
    }
    loaded: dict[str, LoadedLesson] = {}
    srcs_by_id: dict[str, Source] = {}
    for src in lesson_srcs:
        lesson = lessons[id(src)]
        if lesson is None:
            continue
        check_lesson(src, lesson, course_dir, known)
        if lesson.id in srcs_by_id:
            src.error(
                src.place_of(("id",)),
                f"lesson id `{lesson.id}` is already used by {srcs_by_id[lesson.id].path}",
            )
            continue
        srcs_by_id[lesson.id] = src
        if not _has_errors(src):
            loaded[lesson.id] = LoadedLesson.build(
                _course_id(course, course_dir), lesson, src.path, src.raw
            )
    # Every lesson id a file names, even a file that fails validation: its own errors say what
    # is wrong, and other files must not add errors about it (on course.yaml, such an error
    # would drop the whole course).
    declared = set(srcs_by_id) | {
        src.data.get("id") for src in lesson_srcs if isinstance(src.data, dict)
    }
    unreadable = any(not isinstance(src.data, dict) for src in lesson_srcs)
    if course is not None:
        _check_order(course_src, course, srcs_by_id, declared, unreadable)
    # The partners' recorded clips, found by where they lie (bot/content/audio.py).
    valid = {lesson_id: lessons[id(src)] for lesson_id, src in srcs_by_id.items()}
    shipped = None if locales is None else {*locales, *([course.source_locale] if course else [])}
    clips, clip_problems = find_clips(
        course_dir, {k: v for k, v in valid.items() if v is not None}, declared, shipped
    )
    for lesson_id, found in clips.items():
        if lesson_id in loaded:
            loaded[lesson_id] = replace(loaded[lesson_id], audio=MappingProxyType(found))
    for lesson_id, src in srcs_by_id.items():
        lesson = lessons[id(src)]
        assert lesson is not None
        _check_jumps(src, lesson, course, declared, course_dir.parent)
        if _has_errors(src):
            loaded.pop(lesson_id, None)
    directories, directory_srcs = load_directories(course_dir, today or date.today())
    problems = [d for src in (course_src, *lesson_srcs, *directory_srcs) for d in src.problems]
    problems += clip_problems
    problems += [
        Diagnostic(str(p), 1, 1, Severity.WARNING, "rename to .yaml; .yml files are not read")
        for p in sorted(course_dir.glob("*.yml"))
    ]
    if course is None or _has_errors(course_src):
        return None, problems
    ordered = tuple(loaded[i] for i in course.lessons if i in loaded)
    loaded_course = LoadedCourse(
        course, str(course_dir / COURSE_FILE), ordered, directories.schemes, directories.hotlines
    )
    return loaded_course, problems


def _has_errors(src: Source) -> bool:
    return any(d.severity is Severity.ERROR for d in src.problems)


def _course_id(course: Course | None, course_dir: Path) -> str:
    return course.id if course else course_dir.name


def _check_order(
    course_src: Source,
    course: Course,
    srcs_by_id: dict[str, Source],
    declared: set[object],
    unreadable: bool,
) -> None:
    for i, lesson_id in enumerate(course.lessons):
        if lesson_id in declared:
            continue
        place = course_src.place_of(("lessons", i))
        message = f"no lesson file in this folder has `id: {lesson_id}`"
        if unreadable:
            # A file that can't be read at all might hold this lesson; we can't tell, so we
            # only warn and let the rest of the course load.
            course_src.warning(place, f"{message} (maybe a file that cannot be read; fix it first)")
        else:
            course_src.error(place, message)
    for lesson_id, src in srcs_by_id.items():
        if lesson_id not in course.lessons:
            src.warning(
                src.place_of(("id",)),
                f"lesson `{lesson_id}` is not listed under `lessons:` in course.yaml, "
                "so learners never see it",
            )


def _check_jumps(
    src: Source, lesson: Lesson, course: Course | None, lesson_ids: set[object], lessons_root: Path
) -> None:
    """A choice option's `lesson:` must name a lesson that exists."""
    for i, step in enumerate(lesson.steps):
        if not isinstance(step, ChoiceStep):
            continue
        for j, opt in enumerate(step.options):
            target = opt.lesson
            if target is None:
                continue
            if "/" in target:
                other_course, other_lesson = target.split("/", 1)
                exists = _lesson_id_in_dir(lessons_root / other_course, other_lesson)
            else:
                exists = target in lesson_ids
            if not exists:
                src.error(
                    src.place_of(("steps", i, "options", j, "lesson")),
                    f"no lesson `{target}`; name a lesson of this course by its id, or "
                    "another course's as course-id/lesson-id",
                )


def _lesson_id_in_dir(course_dir: Path, lesson_id: str) -> bool:
    # Cross-course jumps are rare, so reading the other folder's files here is cheap enough.
    for path in course_dir.glob("*.yaml"):
        src = read_file(path)  # an unreadable one is reported when its own course is linted
        if isinstance(src.data, dict) and src.data.get("id") == lesson_id:
            return True
    return False
