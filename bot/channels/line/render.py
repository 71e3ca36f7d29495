"""An engine message as LINE message objects, within the channel's declared capabilities.

Choices become quick reply buttons (postback actions, up to 13, labels of at most 20
characters) on the message's last text; more choices, or a longer label, become numbered text
that the learner answers by typing the number (or the words), as on WhatsApp: the engine
resolves a typed answer against the prompt it showed, in the same order, so both forms answer
the same way. Each postback's `displayText` is its label, so the learner's chat shows what they
chose. A text over 5,000 characters is split, and the choices go with the last part. LINE
shows plain text, so the engine's HTML is flattened. Rules: developers.line.biz/en/reference/
messaging-api/#quick-reply, #postback-action, #text-message (checked 2026-12-03).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.channels import plain
from bot.channels.capabilities import LINE, Capabilities
from bot.engine import Say
from bot.engine.outputs import Button

Message = dict[str, Any]
EMPTY = "…"  # a message with choices needs some text to carry them


def render(message: Say, data: Callable[[str], str], caps: Capabilities = LINE) -> list[Message]:
    """The text message objects that show `message`, in order (its picture is the sender's
    business). `data` makes a postback's data from an engine token (signed, so a forged one
    is refused)."""
    options: list[Button] = [b for row in message.buttons for b in row]
    text = plain.flatten(message.text, plain.PLAIN).strip()
    form = caps.form(len(options), max((len(b.label) for b in options), default=0))
    if options and form != "buttons":
        numbered = "\n".join(f"{i}. {b.label}" for i, b in enumerate(options, 1))
        text = f"{text}\n\n{numbered}" if text else numbered
        options = []
    if not text and not options:
        return []
    pieces = plain.split(text or EMPTY, caps.text_chars)
    parts: list[Message] = [{"type": "text", "text": piece} for piece in pieces]
    if options:
        items = [
            {
                "type": "action",
                "action": {
                    "type": "postback",
                    "label": b.label,
                    "data": data(b.token),
                    "displayText": b.label,
                },
            }
            for b in options
        ]
        parts[-1]["quickReply"] = {"items": items}
    return parts
