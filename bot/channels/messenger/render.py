"""An engine message as Messenger messages, within the channel's declared capabilities.

Choices become up to 13 quick replies (title <= 20 characters, a signed payload), which ride
on the last text; more choices, or a longer label, become numbered text that the learner
answers by typing the number or the words: the engine resolves a typed answer against the
prompt it showed, in the same order, so every form answers the same way. Quick replies rather
than the button template (3 postback buttons, text <= 640), because they hold 13 and the
lessons' prompts often have more than 3 choices; one form keeps the learner's habit. Messenger
shows plain text, so the engine's HTML is flattened, and a body over 2,000 characters is split
with the choices on the last part. A choice that is a link is written into the text: quick
replies carry no links.
(developers.facebook.com/docs/messenger-platform/reference/buttons/quick-replies, checked
2026-12-03)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.channels import plain
from bot.channels.capabilities import MESSENGER, Capabilities
from bot.engine import Say

EMPTY = "…"  # a message with quick replies needs some text


def _is_link(token: str) -> bool:
    return token.startswith(("https://", "http://"))


def render(
    message: Say, payload: Callable[[str], str], caps: Capabilities = MESSENGER
) -> list[dict[str, Any]]:
    """The `message` objects (text, maybe quick_replies) that show `message`, in order. Media
    is not among them: the sender sends it first, by its attachment id. `payload` makes a
    quick reply's payload from an engine token (signed, so a forged one is refused)."""
    buttons = [b for row in message.buttons for b in row]
    links = [f"{b.label}: {b.token}" for b in buttons if _is_link(b.token)]
    options = [b for b in buttons if not _is_link(b.token)]
    text = plain.flatten(message.text, plain.PLAIN).strip()
    if links:
        text = "\n\n".join([text, *links]) if text else "\n\n".join(links)
    form = caps.form(len(options), max((len(b.label) for b in options), default=0))
    if options and form == "numbered":
        numbered = "\n".join(f"{i}. {b.label}" for i, b in enumerate(options, 1))
        text = f"{text}\n\n{numbered}" if text else numbered
        options = []
    if not options:
        return [{"text": part} for part in plain.split(text, caps.text_chars) if part]
    *before, last = plain.split(text or EMPTY, caps.text_chars, caps.interactive_chars)
    replies = [
        {"content_type": "text", "title": b.label, "payload": payload(b.token)} for b in options
    ]
    return [*({"text": part} for part in before), {"text": last or EMPTY, "quick_replies": replies}]
