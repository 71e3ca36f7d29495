"""Lesson definitions: YAML in, immutable validated data out. No Telegram, no database."""

from bot.content.diagnostics import Diagnostic, Severity
from bot.content.library import Library, LoadedCourse, LoadedLesson
from bot.content.loader import load_library
from bot.content.model import FORMAT_VERSION

__all__ = [
    "FORMAT_VERSION",
    "Diagnostic",
    "Library",
    "LoadedCourse",
    "LoadedLesson",
    "Severity",
    "load_library",
]
