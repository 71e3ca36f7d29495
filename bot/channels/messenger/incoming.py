"""A Messenger webhook notification, cut into the updates the inbox keeps one by one.

One POST can carry several events, for several people: {"object": "page", "entry": [{"id":
page, "time", "messaging": [event, ...]}]}. Each event has `sender.id` (the person's
Page-scoped id, PSID), `recipient.id` (the Page) and a `timestamp` in milliseconds, and one of
(developers.facebook.com/docs/messenger-platform/webhooks/webhook-events, checked
2026-12-03):
- `message`: {mid, text, quick_reply: {payload}, attachments}; `is_echo` marks the Page's own
  messages coming back, which are dropped here;
- `postback`: {mid, title, payload, referral}, a template button, or a button the Page set
  up (Get Started, the persistent menu), with an m.me link's `ref` on a first contact;
- `delivery`: {mids, watermark}, kept to record receipts of broadcast messages;
- `read` (a watermark, no mids), reactions and the rest: dropped, nothing to do with them.
A message or postback is keyed on its mid, so Meta's redeliveries are stored once; a delivery
on its mids.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

CHANNEL = "messenger"
SIGNED = "~"  # what every payload we sign has (bot.channels.signing)
Kind = Literal["text", "press", "media", "other"]


def _key(*parts: str) -> str:
    # Mids run to 100 characters or more, and the inbox key is 64 with the channel's name.
    return f"{CHANNEL}:" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]


def message_key(mid: str) -> str:
    """The inbox key of a learner's message or postback, which also dedupes its handling."""
    return _key(mid)


def postback_key(event: dict[str, Any]) -> str:
    """A postback's inbox key: on its mid, or (an old client's has none) its sender and time."""
    mid = str(event["postback"].get("mid") or "")
    return message_key(mid) if mid else _key(_psid(event), str(event.get("timestamp")))


def _psid(event: dict[str, Any]) -> str:
    sender = event.get("sender")
    return str(sender.get("id") or "") if isinstance(sender, dict) else ""


def updates(body: Any) -> list[tuple[str, dict[str, Any]]]:
    """(inbox key, {"event": ...}) for every learner message, postback and delivery in
    `body`; echoes, reads and shapes we don't know are left out."""
    found: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(body, dict) or body.get("object") != "page":
        return found
    for entry in body.get("entry") or ():
        events = entry.get("messaging") if isinstance(entry, dict) else None
        for event in events if isinstance(events, list) else ():
            if not isinstance(event, dict) or not _psid(event):
                continue
            message, postback = event.get("message"), event.get("postback")
            if isinstance(message, dict) and message.get("mid") and not message.get("is_echo"):
                found.append((message_key(str(message["mid"])), {"event": event}))
            elif isinstance(postback, dict):
                found.append((postback_key(event), {"event": event}))
            elif isinstance(event.get("delivery"), dict):
                mids = [str(m) for m in event["delivery"].get("mids") or ()]
                if mids:
                    found.append((_key("delivered", *mids), {"event": event}))
    return found


def sender_of(update: dict[str, Any]) -> str | None:
    """Whose update it is, to keep each learner's in order."""
    event = update.get("event")
    return (_psid(event) or None) if isinstance(event, dict) else None


@dataclass(frozen=True)
class Message:
    """A learner's message or postback, reduced to what the channel needs."""

    id: str
    sender: str  # the PSID
    sent_at: datetime
    kind: Kind
    text: str = ""  # the text, a press's payload, or the attachment's type
    # A postback of a button the Page set up itself (Get Started, the persistent menu), not
    # one we sent: its payload is unsigned. `ref` is an m.me link's ref (a course id).
    page_button: bool = False
    ref: str = ""


def read_message(event: dict[str, Any]) -> Message:
    """The learner's message in a stored `message` or `postback` event."""
    try:
        sent_at = datetime.fromtimestamp(int(event["timestamp"]) / 1000, UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        sent_at = datetime.now(UTC)
    sender = _psid(event)
    if isinstance(event.get("postback"), dict):
        postback = event["postback"]
        payload = str(postback.get("payload") or "")
        referral = postback.get("referral")
        ref = str(referral.get("ref") or "") if isinstance(referral, dict) else ""
        mid = str(postback.get("mid") or "")
        return Message(mid, sender, sent_at, "press", payload, SIGNED not in payload, ref)
    message = event["message"]
    mid = str(message["mid"])
    reply = message.get("quick_reply")
    if isinstance(reply, dict) and reply.get("payload"):
        return Message(mid, sender, sent_at, "press", str(reply["payload"]))
    if isinstance(message.get("text"), str):
        return Message(mid, sender, sent_at, "text", message["text"])
    attachments = message.get("attachments")
    if isinstance(attachments, list) and attachments and isinstance(attachments[0], dict):
        return Message(mid, sender, sent_at, "media", str(attachments[0].get("type") or "file"))
    return Message(mid, sender, sent_at, "other", "message")
