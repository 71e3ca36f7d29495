"""Checks that need more than one field: flow, references, texts and media of one lesson."""

from __future__ import annotations

import difflib
from collections import deque
from pathlib import Path as FsPath

from bot.content import text as tx
from bot.content.model import (
    ChoiceStep,
    EndStep,
    InputStep,
    Lesson,
    MessageStep,
    QuestionStep,
    Step,
    SurveyStep,
)
from bot.content.source import Path, Source

EXIT = -1  # a successor that leaves the lesson: an `end` step or a jump to another lesson


def check_lesson(src: Source, lesson: Lesson, course_dir: FsPath, known: set[str]) -> None:
    """Record every semantic problem of `lesson` in `src`."""
    ids = _check_ids(src, lesson)
    for i, step in enumerate(lesson.steps):
        at: Path = ("steps", i)
        if step.next is not None and step.next not in ids:
            _unknown_step(src, (*at, "next"), step.next, ids)
        _check_step(src, at, step, ids, course_dir)
        for path, value in _texts(at, step):
            _check_text(src, path, value, known)
        for path, value in _labels(at, step):
            _check_text(src, path, value, known, label=True)
    last = lesson.steps[-1]
    if not isinstance(last, EndStep) or last.when is not None:
        src.error(
            src.place_of(("steps", len(lesson.steps) - 1, "type")),
            "the last step must be `type: end` without `when:`, so every learner can finish",
        )
    _check_flow(src, lesson, ids)


def _check_ids(src: Source, lesson: Lesson) -> dict[str, int]:
    ids: dict[str, int] = {}
    for i, step in enumerate(lesson.steps):
        if step.id in ids:
            src.error(
                src.place_of(("steps", i, "id")),
                f"duplicate step id `{step.id}` (also step {ids[step.id] + 1}); "
                "every step needs its own id",
            )
        else:
            ids[step.id] = i
    return ids


def _unknown_step(src: Source, path: Path, target: str, ids: dict[str, int]) -> None:
    close = difflib.get_close_matches(target, list(ids), n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    src.error(src.place_of(path), f"no step with id `{target}` in this lesson{hint}")


def _check_step(src: Source, at: Path, step: Step, ids: dict[str, int], course_dir: FsPath) -> None:
    if isinstance(step, QuestionStep | SurveyStep) and step.options:
        seen: set[str] = set()
        for j, opt in enumerate(step.options):
            if opt.id in seen:
                src.error(
                    src.place_of((*at, "options", j, "id")), f"duplicate option id `{opt.id}`"
                )
            seen.add(opt.id)
    if isinstance(step, QuestionStep):
        option_ids = [o.id for o in step.options]
        if step.correct not in option_ids:
            src.error(
                src.place_of((*at, "correct")),
                f"the correct answer `{step.correct}` is not one of the options "
                f"({', '.join(option_ids)})",
            )
    elif isinstance(step, ChoiceStep):
        for j, branch in enumerate(step.options):
            if branch.next is not None and branch.next not in ids:
                _unknown_step(src, (*at, "options", j, "next"), branch.next, ids)
            if branch.next is not None and branch.lesson is not None:
                src.error(
                    src.place_of((*at, "options", j, "lesson")),
                    "an option goes to a step (`next:`) or a lesson (`lesson:`), not both",
                )
    elif isinstance(step, InputStep):
        if step.check == "one_of" and not step.choices:
            src.error(src.place_of((*at, "validate")), "`validate: one_of` needs a `choices:` list")
        if step.choices and step.check != "one_of":
            src.error(
                src.place_of((*at, "choices")), "`choices:` only works with `validate: one_of`"
            )
    elif isinstance(step, SurveyStep):
        _check_survey(src, at, step)
    elif isinstance(step, MessageStep):
        for key in ("image", "document"):
            rel = getattr(step, key)
            if rel:
                _check_media(src, (*at, key), rel, course_dir)


def inside(folder: FsPath, rel: str) -> FsPath | None:
    """Where `rel` (relative to `folder`) really is, links followed, if that is inside `folder`.

    None if it leads out: an absolute or `../` path, a link to a file elsewhere, a loop of
    links. The bot sends whatever file the path names, so such a path could send any file
    the bot can read (its database, its settings, /etc/passwd) to every learner. Lessons'
    and broadcasts' media are both confined by this.
    """
    try:
        found = (folder / rel).resolve()
        root = folder.resolve()
    except (OSError, RuntimeError, ValueError):  # a loop of links, a NUL in the name
        return None
    return found if found.is_relative_to(root) else None


def _check_media(src: Source, path: Path, rel: str, course_dir: FsPath) -> None:
    media = inside(course_dir, rel)
    if media is None:
        src.error(
            src.place_of(path),
            f"media must be inside the course folder; `{rel}` is not (or is a link to a "
            "file outside it): copy the file into the course folder and name it relative "
            "to it, like `media/photo.jpg`",
        )
    elif not media.is_file():
        src.error(
            src.place_of(path),
            f"media file `{rel}` not found in {course_dir}; check the "
            "path (it is relative to the course folder)",
        )


def _check_survey(src: Source, at: Path, step: SurveyStep) -> None:
    if step.kind == "choice" and not step.options:
        src.error(src.place_of((*at, "kind")), "a `kind: choice` survey needs `options:`")
    if step.kind != "choice" and step.options:
        src.error(src.place_of((*at, "options")), "`options:` only works with `kind: choice`")
    if step.kind != "scale" and step.scale:
        src.error(src.place_of((*at, "scale")), "`scale:` only works with `kind: scale`")
    if step.scale and not (step.scale.min < step.scale.max <= step.scale.min + 10):
        src.error(
            src.place_of((*at, "scale")),
            "a scale needs min < max and at most 11 points, like {min: 1, max: 5}",
        )


def _texts(at: Path, step: Step) -> list[tuple[Path, str]]:
    """Every learner-facing message text of a step (Telegram HTML), with its path in the file."""
    found: list[tuple[Path, str]] = [((*at, "text"), step.text)]
    for key in ("feedback", "error"):
        value = getattr(step, key, None)
        if value:
            found.append(((*at, key), value))
    for j, opt in enumerate(getattr(step, "options", None) or ()):
        for key in ("text", "feedback"):
            if getattr(opt, key, None):
                found.append(((*at, "options", j, key), getattr(opt, key)))
    return found


def _labels(at: Path, step: Step) -> list[tuple[Path, str]]:
    """Every button label of a step: plain text on Telegram, not HTML."""
    found: list[tuple[Path, str]] = []
    button = getattr(step, "button", None)
    if button:
        found.append(((*at, "button"), button))
    for j, opt in enumerate(getattr(step, "options", None) or ()):
        found.append(((*at, "options", j, "label"), opt.label))
    return found


def _check_text(
    src: Source, path: Path, value: str, known: set[str], *, label: bool = False
) -> None:
    markup = tx.check_label(value) if label else tx.check_html(value)
    for problem in markup + tx.check_placeholders(value, known):
        src.error(src.place_in_text(path, problem.offset, value), problem.message)
    if label and (too_long := tx.label_length_problem(value, option=path[-1] == "label")):
        is_error, message = too_long
        (src.error if is_error else src.warning)(src.place_of(path), message)
    length = tx.visible_length(value)
    if length > tx.TELEGRAM_TEXT_LIMIT:
        src.error(
            src.place_of(path),
            f"text is {length} characters with placeholders filled; Telegram refuses "
            f"more than {tx.TELEGRAM_TEXT_LIMIT}. Split it into two steps",
        )
    elif length > tx.PHONE_SCREEN_CHARS:
        src.warning(
            src.place_of(path),
            f"text is {length} characters; over about {tx.PHONE_SCREEN_CHARS} it no "
            "longer fits one phone screen. Consider splitting it",
        )


def successors(steps: tuple[Step, ...], i: int, ids: dict[str, int]) -> set[int]:
    """Where step `i` can lead: step indexes, or EXIT."""
    step = steps[i]
    below = i + 1 if i + 1 < len(steps) else EXIT
    following = ids.get(step.next, EXIT) if step.next else below
    out: set[int] = {below} if step.when is not None else set()  # skipped: the step below
    if isinstance(step, EndStep):
        out.add(EXIT)
    elif isinstance(step, ChoiceStep):
        for opt in step.options:
            if opt.lesson:
                out.add(EXIT)
            else:
                out.add(ids.get(opt.next, EXIT) if opt.next else following)
    else:
        out.add(following)
    return out


def _check_flow(src: Source, lesson: Lesson, ids: dict[str, int]) -> None:
    steps = lesson.steps
    graph = {i: successors(steps, i, ids) for i in range(len(steps))}
    reachable = _walk({0}, graph)
    for i, step in enumerate(steps):
        if i not in reachable:
            src.warning(
                src.place_of(("steps", i, "id")),
                f"step `{step.id}` can never be reached; link to it with `next:` or remove it",
            )
    reverse: dict[int, set[int]] = {}
    for i, outs in graph.items():
        for j in outs:
            reverse.setdefault(j, set()).add(i)
    can_finish = _walk({EXIT}, reverse)
    stuck = [i for i in sorted(reachable) if i not in can_finish]
    # Steps leading into a loop are stuck too, but the loop is what to fix: name only the steps
    # that lie on it, and point at the first of them.
    looping = [i for i in stuck if i in _walk(graph[i], graph)]
    if looping:
        names = ", ".join(f"`{steps[i].id}`" for i in looping)
        src.error(
            src.place_of(("steps", looping[0], "id")),
            f"steps {names} form a loop with no way out; give one of them a `next:` "
            "that leads to an `end` step",
        )


def _walk(start: set[int], graph: dict[int, set[int]]) -> set[int]:
    seen = set(start)
    queue = deque(start)
    while queue:
        for nxt in graph.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen
