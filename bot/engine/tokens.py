"""Compact button tokens: what a button means, small enough for Telegram's 64-byte limit.

A step button names its lesson and step by short digests plus the lesson's content version, so
the engine can tell a press on the current step from a press on an old message (stale) without
any server-side table. Channels sign tokens before sending them, so they can't be forged.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.content.library import LoadedLesson, digest

NEXT = "n"  # the option of a message step's continue button


def step_digest(lesson: LoadedLesson, step_id: str) -> str:
    return digest(lesson.key, step_id, size=3)


def step_token(lesson: LoadedLesson, step_id: str, option: str) -> str:
    return f"o:{digest(lesson.key)}:{step_digest(lesson, step_id)}:{option}:{lesson.version}"


def course_token(course_id: str) -> str:
    return f"c:{digest(course_id)}"


def lesson_token(lesson: LoadedLesson) -> str:
    return f"l:{digest(lesson.key)}"


def menu_token(command: str) -> str:
    return f"m:{command}"


def locale_token(locale: str) -> str:
    return f"g:{locale}"


NO_COUNTRY = "-"
OTHER_COUNTRY = "*"  # "another country" after a guessed one: show them all


def country_token(code: str) -> str:
    return f"k:{code}"


def scheme_token(country: str, scheme_id: str) -> str:
    """Details of one programme in a country's directory: `s:my/tekun`."""
    return f"s:{country.lower()}/{scheme_id}"


def profile_token(question: str, value: str) -> str:
    """An answer during onboarding: `consent=yes`, `gender=skip`, ..."""
    return f"p:{question}={value}"


def reply_token(value: str) -> str:
    """An answer to the question in `LearnerState.awaiting` (certificate name, delete)."""
    return f"q:{value}"


@dataclass(frozen=True)
class StepPress:
    lesson_digest: str
    step_digest: str
    option: str
    version: str


@dataclass(frozen=True)
class Simple:
    # "c" course, "l" lesson, "m" menu command, "g" language, "k" country, "p" profile answer,
    # "q" reply to an awaited question, "s" a programme's details
    kind: str
    value: str


def parse(token: str) -> StepPress | Simple | None:
    """The parts of a token, or None if it is not one of ours."""
    parts = token.split(":")
    if parts[0] == "o" and len(parts) == 5:
        return StepPress(*parts[1:])
    if parts[0] in ("c", "l", "m", "g", "k", "p", "q", "s") and len(parts) == 2 and parts[1]:
        return Simple(parts[0], parts[1])
    return None
