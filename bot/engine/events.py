"""What a learner did, as the engine sees it, whatever the channel."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Start:
    """First contact or `/start`, maybe with a deep-link payload such as a course id."""

    payload: str = ""


@dataclass(frozen=True)
class Press:
    """A button press, carrying the compact token the engine put on the button."""

    token: str


@dataclass(frozen=True)
class Text:
    """Typed text."""

    text: str


@dataclass(frozen=True)
class Command:
    """`/continue`, `/menu`, `/progress`, `/language`, `/help` (without the slash)."""

    name: str
    arg: str = ""


@dataclass(frozen=True)
class Unsupported:
    """Something the bot can't read: a sticker, photo, voice note, location or an edit."""

    kind: str


Event = Start | Press | Text | Command | Unsupported

COMMANDS = (
    "start",
    "continue",
    "menu",
    "progress",
    "language",
    "country",
    "schemes",
    "scammed",
    "certificate",
    "stop",
    "mydata",
    "delete",
    "verify",
    "help",
)
