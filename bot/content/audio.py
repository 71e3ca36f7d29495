"""Recorded clips of lesson steps, found by where they lie, so a partner adds one without
editing any YAML (docs/audio.md).

The clip of step `<step-id>` of lesson `<lesson-id>` in locale `<locale>` is the file
`<course folder>/audio/<locale>/<lesson-id>/<step-id>.<ext>`, `ext` one of `ogg` (Opus), `mp3`
or `m4a`. A course's clips are indexed once, when it loads, into each `LoadedLesson`, so the
engine looks a clip up without touching the disk. Every problem is a warning on the clip's file:
a clip is an extra beside the text, and a wrong one never keeps a lesson from loading. A clip
with a problem the apps would refuse it for is left out (the text still goes).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from pathlib import Path

from babel import localedata

from bot.content.checks import inside
from bot.content.diagnostics import Diagnostic, Severity
from bot.content.model import EndStep, Lesson

AUDIO_DIR = "audio"
# The formats every app that plays clips takes, best first: when one step has two files, the
# first of these is the one sent.
EXTENSIONS = ("ogg", "mp3", "m4a")
LIGHT_BYTES = 1 << 20  # learners pay for data: past this, say how to make the file smaller
# WhatsApp takes audio up to 16 MB, the least of the apps that send clips (Messenger 25 MB,
# Telegram 50 MB); a bigger file would only be refused, so it is left out.
MAX_BYTES = 16 << 20
REENCODE = "ffmpeg -i in.wav -c:a libopus -b:a 24k -ac 1 out.ogg"
WHERE = "audio/<locale>/<lesson-id>/<step-id>.ogg"

# (locale, step id) -> the clip's path, as the lesson's own path is written (relative or not)
Clips = Mapping[tuple[str, str], str]


def find_clips(
    course_dir: Path,
    lessons: Mapping[str, Lesson],
    declared: Collection[object] = (),
    locales: Collection[str] | None = None,
) -> tuple[dict[str, dict[tuple[str, str], str]], list[Diagnostic]]:
    """The clips under `course_dir/audio`, per lesson id, and what is wrong with the others.

    `lessons`: the course's lessons that validated, by id. `declared`: every lesson id a file
    names, even one that failed validation (its own errors say what is wrong, so a clip for it
    is not reported). `locales`: the locales the bot ships, if known; otherwise a locale is any
    that Babel knows.
    """
    root = course_dir / AUDIO_DIR
    if not root.is_dir():
        return {}, []
    problems: list[Diagnostic] = []

    def warn(path: Path, message: str) -> None:
        problems.append(Diagnostic(str(path), 1, 1, Severity.WARNING, message))

    known = set(locales) if locales is not None else None
    # (lesson id, locale, step id) -> the files found for that step, by extension
    found: dict[tuple[str, str, str], dict[str, Path]] = {}
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") for p in parts) or path.is_dir():
            continue  # .DS_Store, an editor's backup folder, the folders themselves
        if len(parts) != 3:
            warn(path, f"a clip goes at {WHERE} in the course folder; move this file there")
            continue
        locale, lesson_id, name = parts
        stem, ext = Path(name).stem, Path(name).suffix.lower().lstrip(".")
        if ext not in EXTENSIONS:
            warn(
                path,
                f"a clip must be .ogg (Opus), .mp3 or .m4a, not `{Path(name).suffix or name}`; "
                f"re-encode it, for example: {REENCODE}",
            )
            continue
        if not _known_locale(locale, known):
            shipped = f" (the bot ships {', '.join(sorted(known))})" if known else ""
            warn(
                path,
                f"`{locale}` is not a language of the bot{shipped}; name the folder "
                "after the locale of the catalog the step's text was read from",
            )
            continue
        lesson = lessons.get(lesson_id)
        if lesson is None:
            if lesson_id not in declared:
                hint = _did_you_mean(lesson_id, list(lessons))
                warn(
                    path,
                    f"no lesson `{lesson_id}` in this course{hint}; the folder is "
                    "named after the lesson's `id:`, not its file",
                )
            continue
        step = next((s for s in lesson.steps if s.id == stem), None)
        if step is None:
            hint = _did_you_mean(stem, [s.id for s in lesson.steps])
            warn(
                path,
                f"lesson `{lesson_id}` has no step `{stem}`{hint}; name the file after "
                "the step's `id:`",
            )
            continue
        if isinstance(step, EndStep):
            warn(
                path,
                f"`{stem}` is the lesson's `end` step, whose text goes with the lesson's "
                "result: its clip is not sent. Record the steps before it",
            )
            continue
        problem, usable = _file_problem(course_dir, path, ext)
        if problem:
            warn(path, problem)
        if not usable:
            continue
        found.setdefault((lesson_id, locale, stem), {})[ext] = path
    clips: dict[str, dict[tuple[str, str], str]] = {}
    for (lesson_id, locale, step_id), files in found.items():
        chosen = next(files[ext] for ext in EXTENSIONS if ext in files)
        for other in files.values():
            if other != chosen:
                warn(
                    other,
                    f"step `{step_id}` has two clips in `{locale}`; only "
                    f"{chosen.name} is sent: remove one",
                )
        clips.setdefault(lesson_id, {})[(locale, step_id)] = str(chosen)
    return clips, problems


def _known_locale(locale: str, shipped: set[str] | None) -> bool:
    if shipped is not None:
        return locale in shipped
    return locale != "root" and locale in _babel_locales()


_BABEL: set[str] = set()


def _babel_locales() -> set[str]:
    if not _BABEL:
        _BABEL.update(localedata.locale_identifiers())
    return _BABEL


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _file_problem(course_dir: Path, path: Path, ext: str) -> tuple[str, bool]:
    """What is wrong with this clip ("" if nothing), and whether it is sent all the same: a
    clip the apps would refuse is left out; one that is only too big for cheap data is sent."""
    if inside(course_dir, str(path.relative_to(course_dir))) is None:
        # The bot sends whatever file the path leads to: a link out could send any file.
        return (
            "this clip is a link to a file outside the course folder, and is not sent; copy "
            "the file itself here"
        ), False
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        return f"this clip cannot be read ({exc.strerror or exc}); copy it here again", False
    if not _looks_like(ext, head):
        return (
            f"this file is not {_FORMATS[ext]} audio inside (renaming a file does not convert "
            f"it), so the apps would refuse it; re-encode it, for example: {REENCODE}"
        ), False
    if size > MAX_BYTES:
        return (
            f"this clip is {size / (1 << 20):.1f} MB; the apps refuse more than "
            f"{MAX_BYTES >> 20} MB, so it is not sent. Re-encode it, for example: {REENCODE}"
        ), False
    if size > LIGHT_BYTES:
        # Still sent: a big clip plays, but each learner pays for every byte of it.
        return (
            f"this clip is {size / (1 << 20):.1f} MB, and learners pay for their data: keep a "
            f"clip under 1 MB (mono Opus at 24 kbps is about 3 KB a second): {REENCODE}"
        ), True
    return "", True


_FORMATS = {"ogg": "Ogg Opus", "mp3": "MP3", "m4a": "M4A (MP4)"}


def _looks_like(ext: str, head: bytes) -> bool:
    """Whether the file's first bytes are of the format its extension names."""
    if ext == "ogg":
        # An Ogg page whose first packet is an Opus header: WhatsApp takes Ogg with Opus only,
        # not the Vorbis that many converters write into .ogg by default.
        return head.startswith(b"OggS") and b"OpusHead" in head
    if ext == "mp3":
        # An ID3 tag, or an MPEG audio frame's sync bits.
        return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] >= 0xE0)
    return head[4:8] == b"ftyp"  # m4a: an ISO media file's first box
