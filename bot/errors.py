"""One root for every error LessonBot raises on purpose.

Each message says what went wrong and how to fix it, because the people who read them (authors,
admins, deployers) are not necessarily programmers.
"""


class LessonBotError(Exception):
    """Root of all LessonBot errors."""


class ConfigError(LessonBotError):
    """The environment or a setting is wrong; the message says which variable to set."""


class StoreError(LessonBotError):
    """The database could not do what was asked (full disk, locked, unreachable)."""
