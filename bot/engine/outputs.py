"""What the engine asks the outside world to do: say something, store something, count something."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from bot.engine.prompt import Button as Button  # a message's buttons are its prompt's choices


@dataclass(frozen=True)
class Media:
    # "audio": a recorded clip of a step (docs/audio.md), sent as a voice message where the
    # app can send one; it never stands for the text, which goes too.
    kind: Literal["photo", "document", "audio"]
    # A file in the content folder; channels upload it once and reuse the file id. With `data`,
    # a file made for one learner (a certificate): `path` is only its name, sent every time.
    path: str
    data: bytes | None = None


@dataclass(frozen=True)
class Say:
    """A message in Telegram-safe HTML, with rows of buttons."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    media: Media | None = None


@dataclass(frozen=True)
class Answer:
    """An answer to keep: a quiz or survey choice, typed input, or a branch taken."""

    course: str
    lesson: str
    step: str
    value: str
    correct: bool | None = None  # None where there is no right answer
    attempt: int = 1
    field: str | None = None  # the learner field an input step saved


@dataclass(frozen=True)
class Progress:
    course: str
    lesson: str
    status: Literal["started", "completed"]
    score: int = 0  # quiz questions right at the first try
    total: int = 0  # quiz questions answered


@dataclass(frozen=True)
class Track:
    """An analytics event for the append-only log."""

    name: Literal[
        "lesson_started",
        "step_shown",
        "answer_given",
        "lesson_completed",
        "course_completed",
        "survey_invited",  # the baseline was offered: the report's count of who was asked
    ]
    course: str
    lesson: str
    step: str = ""
    data: Mapping[str, str | int | bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Certify:
    """Make the learner's certificate for `course`, with `name` printed on it."""

    course: str
    name: str


@dataclass(frozen=True)
class Verify:
    """Look up certificate `code` and tell the learner whether it is genuine."""

    code: str


@dataclass(frozen=True)
class ExportData:
    """/mydata: send the learner a file with everything stored about them."""


@dataclass(frozen=True)
class Erase:
    """/delete, confirmed: erase the learner's data, keeping only anonymous counts."""


# What only the store can do; the service carries these out after the engine returns.
Action = Certify | Verify | ExportData | Erase
Output = Say | Answer | Progress | Track | Action
