"""What a learner typed, as an engine event: a /command, or text for the engine to resolve.

Every channel reads typed text this way, so "/start", "/menu" and answers mean the same on each.
"""

from __future__ import annotations

from bot.engine import Command, Event, Start, Text
from bot.engine.events import COMMANDS


def typed_event(text: str) -> Event:
    text = text.strip()
    if not text.startswith("/"):
        return Text(text)
    name, _, arg = text[1:].partition(" ")
    name = name.split("@", 1)[0].lower()  # /start@lessonbot in some Telegram clients
    if name == "start":
        return Start(arg.strip())
    if name in COMMANDS:
        return Command(name, arg.strip())
    return Command(name)
