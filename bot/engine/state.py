"""Everything the engine needs to remember about one learner, as an immutable value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.engine.prompt import Prompt


@dataclass(frozen=True)
class Position:
    course: str
    lesson: str
    step: str
    index: int  # kept so a learner whose step was deleted lands on the nearest one
    version: str  # lesson content version when the step was shown
    attempts: int = 0  # wrong tries at the current question

    @property
    def lesson_key(self) -> str:
        return f"{self.course}/{self.lesson}"


@dataclass(frozen=True)
class Paused:
    """Where a course's lesson was left when the learner opened another course."""

    position: Position
    score: int = 0
    answered: int = 0


@dataclass(frozen=True)
class LearnerState:
    locale: str = "en"
    fields: Mapping[str, str] = field(default_factory=dict)
    position: Position | None = None
    # Every other course with a lesson left half-way, so coming back resumes it: course -> where
    paused: Mapping[str, Paused] = field(default_factory=dict)
    completed: frozenset[str] = frozenset()  # "course/lesson" keys
    last_lesson: str = ""  # the lesson finished most recently, to offer what comes next
    score: int = 0  # in the current lesson
    answered: int = 0
    # First contact: "new" (nothing asked yet), "language", "consent", or the profile question
    # that is open ("country", "business", ...), "" when done.
    onboarding: str = "new"
    pending_course: str = ""  # a deep-linked course to open once onboarding is done
    consent: str = ""  # to the profile questions and their use in reports: "", "yes" or "no"
    opted_out: bool = False  # /stop: no reminders, surveys or broadcasts until /start
    # The question shown last, with its options in order: what typed text is an answer to.
    prompt: Prompt = field(default_factory=Prompt)
    scores: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # lesson: right, asked
    streak: int = 0  # days in a row with some learning, in the learner's local calendar
    streak_day: str = ""  # the last such day, ISO format

    def to_json(self) -> dict[str, Any]:
        # What `dataclasses.asdict` gave, without its recursive deep copy: every update saves
        # its state, and asdict was a large share of the update's database work.
        data = dict(vars(self))
        data["fields"] = dict(self.fields)
        data["position"] = None if self.position is None else dict(vars(self.position))
        data["completed"] = sorted(self.completed)
        data["scores"] = {key: list(value) for key, value in self.scores.items()}
        data["prompt"] = self.prompt.to_json()
        data["paused"] = {
            course: {
                "position": dict(vars(where.position)),
                "score": where.score,
                "answered": where.answered,
            }
            for course, where in self.paused.items()
        }
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LearnerState:
        pos = data.get("position")
        return cls(
            locale=str(data.get("locale", "en")),
            fields={str(k): str(v) for k, v in dict(data.get("fields") or {}).items()},
            position=Position(**pos) if pos else None,
            paused={
                str(course): Paused(
                    Position(**where["position"]), int(where["score"]), int(where["answered"])
                )
                for course, where in dict(data.get("paused") or {}).items()
            },
            completed=frozenset(data.get("completed") or ()),
            last_lesson=str(data.get("last_lesson", "")),
            score=int(data.get("score", 0)),
            answered=int(data.get("answered", 0)),
            onboarding=str(data.get("onboarding", "")),
            pending_course=str(data.get("pending_course", "")),
            consent=str(data.get("consent", "")),
            opted_out=bool(data.get("opted_out", False)),
            prompt=_prompt(data),
            scores={
                str(k): (int(v[0]), int(v[1])) for k, v in dict(data.get("scores") or {}).items()
            },
            streak=int(data.get("streak", 0)),
            streak_day=str(data.get("streak_day", "")),
        )


def _prompt(data: Mapping[str, Any]) -> Prompt:
    """The saved prompt; a state saved before prompts were kept had only `awaiting`."""
    if isinstance(data.get("prompt"), Mapping):
        return Prompt.from_json(data["prompt"])
    return Prompt(kind=str(data.get("awaiting", "")))
