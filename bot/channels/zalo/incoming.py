"""A Zalo webhook event, as the update the inbox keeps.

Zalo posts one event per request. A learner's message is keyed on its `msg_id`, so Zalo's
redeliveries are stored once; an event without one (follow, unfollow, a receipt) on its name,
its timestamp and the user. Shapes: as tests/fakezalo.py documents them (checked 2026-12-03).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

CHANNEL = "zalo"
# Messages the learner sends (text, or something we can't read as an answer).
MESSAGES = frozenset({
    "user_send_text", "user_send_image", "user_send_link", "user_send_audio", "user_send_video",
    "user_send_sticker", "user_send_location", "user_send_file", "user_send_gif",
    "user_send_business_card",
})  # fmt: skip
FOLLOWS = frozenset({"follow", "unfollow"})
RECEIPTS = {"user_received_message": "delivered", "user_seen_message": "read"}


def _key(*parts: str) -> str:
    return f"{CHANNEL}:" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]


def message_key(msg_id: str) -> str:
    """The inbox key of a learner's message, which also dedupes its handling."""
    return _key("message", msg_id)


def sender_of(update: dict[str, Any]) -> str | None:
    """Whose event it is (the learner), to keep each learner's in order."""
    name = update.get("event_name")
    if name in FOLLOWS:
        return str((update.get("follower") or {}).get("id") or "") or None
    if name in RECEIPTS:
        return str((update.get("recipient") or {}).get("id") or "") or None
    return str((update.get("sender") or {}).get("id") or "") or None


def updates(body: Any, app_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(inbox key, update) for the event in `body`, if it is one we handle for our app."""
    if not isinstance(body, dict) or str(body.get("app_id")) != str(app_id):
        return []
    name = body.get("event_name")
    who = sender_of(body)
    if not isinstance(name, str) or who is None:
        return []
    if name in MESSAGES:
        msg_id = (body.get("message") or {}).get("msg_id") if isinstance(
            body.get("message"), dict) else None  # fmt: skip
        key = message_key(str(msg_id)) if msg_id else _key(name, str(body.get("timestamp")), who)
        return [(key, body)]
    if name in FOLLOWS or name in RECEIPTS:
        return [(_key(name, str(body.get("timestamp")), who), body)]
    return []


@dataclass(frozen=True)
class Message:
    """A learner's message, reduced to what the channel needs."""

    id: str
    sender: str
    sent_at: datetime
    kind: str  # text | media
    text: str = ""


def sent_at(update: dict[str, Any]) -> datetime:
    try:
        return datetime.fromtimestamp(int(update.get("timestamp")) / 1000, UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def read_message(update: dict[str, Any]) -> Message:
    message = update.get("message") if isinstance(update.get("message"), dict) else {}
    assert isinstance(message, dict)
    sender = str(update["sender"]["id"])
    msg_id = str(message.get("msg_id") or "")
    name = str(update["event_name"])
    if name == "user_send_text":
        return Message(msg_id, sender, sent_at(update), "text", str(message.get("text") or ""))
    return Message(msg_id, sender, sent_at(update), "media", name.removeprefix("user_send_"))
