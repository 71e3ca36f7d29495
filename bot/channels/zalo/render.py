"""An engine message as Zalo messages, within the channel's declared capabilities.

Choices become buttons of type `oa.query.hide` on the last part of the text: a tap comes back as
the learner's own text message carrying the button's payload (our signed engine token), hidden
from the chat so the learner never sees it. Choices that do not fit (more of them, or longer
labels, than `Capabilities` allows) become numbered text the learner answers by typing the
number or the words, as on WhatsApp. Zalo shows plain text; a body too long for one message is
split, and the buttons go with the last part.

Shapes (checked 2026-12-03; tests/fakezalo.py names the sources): text with a `template`
attachment of buttons, a `media` template naming an uploaded image, and a `promotion` template
of banner, header and text elements with buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.channels import plain
from bot.channels.capabilities import ZALO, Capabilities
from bot.engine import Say
from bot.engine.outputs import Button

JSON = dict[str, Any]
TAP = "oa.query.hide"  # the tap comes back as the learner's text, hidden from the chat


def _choices(message: Say, caps: Capabilities) -> tuple[str, list[Button]]:
    """The message's plain text (numbered choices written in when they can't be buttons), and
    the choices that go as buttons."""
    options = [b for row in message.buttons for b in row]
    text = plain.flatten(message.text, plain.PLAIN).strip()
    form = caps.form(len(options), max((len(b.label) for b in options), default=0))
    if options and form != "buttons":  # Zalo has no list message: numbered text
        numbered = "\n".join(f"{i}. {b.label}" for i, b in enumerate(options, 1))
        return (f"{text}\n\n{numbered}" if text else numbered), []
    return text, options


def _buttons(options: list[Button], payload: Callable[[str], str]) -> list[JSON]:
    return [{"title": b.label, "type": TAP, "payload": payload(b.token)} for b in options]


def render(message: Say, payload: Callable[[str], str], caps: Capabilities = ZALO) -> list[JSON]:
    """The consultation `message` objects that show `message`'s text and choices, in order
    (its picture, if any, is sent first by the platform). `payload` makes a button's payload
    from an engine token (signed, so a forged one is refused)."""
    text, options = _choices(message, caps)
    if not options:
        return [{"text": part} for part in plain.split(text, caps.text_chars) if part]
    *before, last = plain.split(text or "…", caps.text_chars, caps.interactive_chars)
    template = {"type": "template", "payload": {"buttons": _buttons(options, payload)}}
    return [*({"text": part} for part in before), {"text": last, "attachment": template}]


def image(attachment_id: str) -> JSON:
    """A consultation message showing an uploaded image."""
    element = {"media_type": "image", "attachment_id": attachment_id}
    return {"attachment": {"type": "template", "payload": {"template_type": "media",
                                                           "elements": [element]}}}  # fmt: skip


def promotion(
    message: Say,
    payload: Callable[[str], str],
    banner: str | None = None,
    caps: Capabilities = ZALO,
) -> JSON:
    """One proactive (promotion) message: the picture as its banner, the text as its text
    elements, the choices as its buttons (or numbered in the text)."""
    text, options = _choices(message, caps)
    elements: list[JSON] = [{"type": "banner", "attachment_id": banner}] if banner else []
    elements += [
        {"type": "text", "align": "left", "content": part}
        for part in plain.split(text or "…", caps.text_chars)
    ]
    body: JSON = {"template_type": "promotion", "language": "VI", "elements": elements}
    if options:
        body["buttons"] = _buttons(options, payload)
    return {"attachment": {"type": "template", "payload": body}}
