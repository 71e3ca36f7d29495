"""The pure lesson runtime. It imports no Telegram, no database and does no I/O."""

from bot.engine.context import Context, SourceTexts, Texts
from bot.engine.events import Command, Event, Press, Start, Text, Unsupported
from bot.engine.outputs import Answer, Button, Media, Output, Progress, Say, Track
from bot.engine.runtime import advance
from bot.engine.state import LearnerState, Position

__all__ = [
    "Answer",
    "Button",
    "Command",
    "Context",
    "Event",
    "LearnerState",
    "Media",
    "Output",
    "Position",
    "Press",
    "Progress",
    "Say",
    "SourceTexts",
    "Start",
    "Text",
    "Texts",
    "Track",
    "Unsupported",
    "advance",
]
