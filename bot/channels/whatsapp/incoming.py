"""A WhatsApp webhook notification, cut into the updates the inbox keeps one by one.

One POST can carry several messages and statuses, for several learners. Each becomes its own
inbox row, keyed on the message's id (a status on the message's id and the status), so Meta's
redeliveries are stored once, and each learner's updates are handled in order, apart from the
others'. Shapes: developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components (checked
2026-12-02).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.store.personal import FIRST_NAME_LIMIT, storable

CHANNEL = "whatsapp"


def _key(*parts: str) -> str:
    # Message ids are about 60 characters, and the inbox key is 64 with the channel's name.
    return f"{CHANNEL}:" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]


def message_key(message_id: str) -> str:
    """The inbox key of a learner's message, which also dedupes its handling."""
    return _key(message_id)


def updates(body: Any, phone_number_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(inbox key, update) for every message and status in `body` sent to our number.

    An update is {"message": ..., "name": ...} or {"status": ...}, as Meta sent them; anything
    for another number of the same app, or of an unknown shape, is left out."""
    found: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
        return found
    for entry in body["entry"]:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else ():
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                continue
            metadata = value.get("metadata")
            if not isinstance(metadata, dict) or str(metadata.get("phone_number_id")) != str(
                phone_number_id
            ):
                continue
            names = {
                str(c.get("wa_id")): str((c.get("profile") or {}).get("name") or "")
                for c in value.get("contacts") or ()
                if isinstance(c, dict) and isinstance(c.get("profile") or {}, dict)
            }
            for message in value.get("messages") or ():
                if isinstance(message, dict) and message.get("id") and message.get("from"):
                    sender = str(message["from"])
                    update = {"message": message, "name": names.get(sender, "")}
                    found.append((message_key(str(message["id"])), update))
            for status in value.get("statuses") or ():
                if isinstance(status, dict) and status.get("id") and status.get("status"):
                    key = _key(str(status["id"]), str(status["status"]))
                    found.append((key, {"status": status}))
    return found


def sender_of(update: dict[str, Any]) -> str | None:
    """Whose update it is, to keep each learner's in order."""
    if isinstance(update.get("message"), dict):
        return str(update["message"].get("from") or "") or None
    if isinstance(update.get("status"), dict):
        return str(update["status"].get("recipient_id") or "") or None
    return None


@dataclass(frozen=True)
class Message:
    """A learner's message, reduced to what the channel needs."""

    id: str
    sender: str  # the wa_id: the phone number in international form, digits only
    name: str
    sent_at: datetime
    kind: str  # text | reply (a button or list row) | media | ignored | other
    text: str = ""  # the text, or a reply's id


def read_message(update: dict[str, Any]) -> Message:
    message = update["message"]
    kind = str(message.get("type") or "")
    try:
        sent_at = datetime.fromtimestamp(int(message.get("timestamp")), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        sent_at = datetime.now(UTC)
    sender = str(message["from"])
    # Names come as the person typed them in the app: clean (see `storable`), never refused.
    name = storable(str(update.get("name") or ""), FIRST_NAME_LIMIT)

    def made(kind: str, text: str = "") -> Message:
        return Message(str(message["id"]), sender, name, sent_at, kind, text)

    if kind == "text":
        return made("text", str((message.get("text") or {}).get("body", "")))
    if kind == "interactive":
        reply = message.get("interactive") or {}
        chosen = reply.get("button_reply") or reply.get("list_reply") or {}
        return made("reply", str(chosen.get("id") or ""))
    if kind == "button":  # a template's quick-reply button: its text is what the learner means
        return made("text", str((message.get("button") or {}).get("text", "")))
    if kind in ("image", "document", "audio", "video", "sticker", "location", "contacts"):
        return made("media", kind)
    if kind in ("reaction", "system", "ephemeral"):
        return made("ignored")  # nothing to answer
    return made("other", kind)
