"""An engine message as WhatsApp messages, within the channel's declared capabilities.

Choices become up to 3 reply buttons, a list message of up to 10 rows, or numbered text that
the learner answers by typing the number (or the words): the engine resolves a typed answer
against the prompt it showed, in the same order, so every form answers the same way. A body
too long for one message is split, and its choices go with the last part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.channels import plain
from bot.channels.capabilities import WHATSAPP, Capabilities
from bot.engine import Say
from bot.engine.outputs import Button

# The list message's menu button: a symbol and the count, the same in every language, because a
# reply is sent without knowing the learner's locale ("☰ 1–9").
MENU = "☰ 1–{n}"
CUT = "…"


def _row_title(label: str, limit: int) -> tuple[str, str]:
    """A list row's title, and its description holding the whole label when it was cut."""
    if len(label) <= limit:
        return label, ""
    return label[: limit - 1].rstrip() + CUT, label


def render(
    message: Say,
    button_id: Callable[[str], str],
    caps: Capabilities = WHATSAPP,
) -> list[dict[str, Any]]:
    """The message objects (`type` and its content) that show `message`, in order. Media is
    not among them: the sender sends it first, by its uploaded id. `button_id` makes a reply's
    id from an engine token (signed, so a forged one is refused)."""
    options: list[Button] = [b for row in message.buttons for b in row]
    text = plain.flatten(message.text, plain.WHATSAPP).strip()
    form = caps.form(len(options), max((len(b.label) for b in options), default=0))
    if not options or form == "numbered":
        if options:
            numbered = "\n".join(f"{i}. {b.label}" for i, b in enumerate(options, 1))
            text = f"{text}\n\n{numbered}" if text else numbered
        # A message that is only its media (a clip before a step's picture) has no text.
        return [_text(part) for part in plain.split(text, caps.text_chars) if part]
    parts = plain.split(text or "…", caps.text_chars, caps.interactive_chars)
    *before, last = parts
    if form == "buttons":
        action: dict[str, Any] = {
            "buttons": [
                {"type": "reply", "reply": {"id": button_id(b.token), "title": b.label}}
                for b in options
            ]
        }
        kind = "button"
    else:
        rows = []
        for b in options:
            title, description = _row_title(b.label, caps.row_chars)
            row = {"id": button_id(b.token), "title": title}
            if description:
                row["description"] = description[: caps.row_description_chars]
            rows.append(row)
        action = {"button": MENU.format(n=len(options)), "sections": [{"rows": rows}]}
        kind = "list"
    interactive = {"type": kind, "body": {"text": last}, "action": action}
    return [*(_text(part) for part in before), {"type": "interactive", "interactive": interactive}]


def _text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body, "preview_url": False}}
