"""What the engine gets from outside besides state and event: clock, texts and languages.

Injecting these keeps `advance` deterministic: tests pass a fixed clock and plain texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol


def N_(message: str) -> str:
    """Mark `message` for extraction; it is translated later, where it is shown."""
    return message


class Texts(Protocol):
    """Translations: the bot's own strings, and lesson strings by their place in the content."""

    def ui(self, locale: str, message: str) -> str: ...

    def lesson(self, locale: str, context: str, source: str) -> str: ...

    def country(self, locale: str, code: str) -> str:
        """The name of country `code` (ISO 3166) in `locale`."""
        ...

    def day(self, locale: str, when: date) -> str:
        """A date as people in `locale` write it."""
        ...

    def number(self, locale: str, value: int) -> str:
        """A number in `locale`'s digits and grouping (Burmese uses its own digits)."""
        ...


class SourceTexts:
    """No translation: every text as written."""

    def ui(self, locale: str, message: str) -> str:
        return message

    def lesson(self, locale: str, context: str, source: str) -> str:
        return source

    def country(self, locale: str, code: str) -> str:
        return code

    def day(self, locale: str, when: date) -> str:
        return when.isoformat()

    def number(self, locale: str, value: int) -> str:
        return str(value)


@dataclass(frozen=True)
class Context:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    texts: Texts = field(default_factory=SourceTexts)
    # locale code -> its name in its own script, for the language menu
    languages: Mapping[str, str] = field(default_factory=lambda: {"en": "English"})
    # countries learners can pick on first contact: the ten ASEAN members
    countries: tuple[str, ...] = ("BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "VN")
    # The channel's guess of the learner's country (a WhatsApp number's calling code), offered
    # first for the learner to confirm; "" when the channel can't tell.
    country_hint: str = ""
