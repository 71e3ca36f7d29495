"""A LINE webhook body, cut into the events the inbox keeps one by one.

One POST carries `events[]`, possibly for several users. Each event the bot acts on becomes its
own inbox row keyed on its `webhookEventId`, which stays the same when LINE redelivers the event
(with `deliveryContext.isRedelivery` true), so a redelivery is stored, and answered, once.
Shapes: developers.line.biz/en/reference/messaging-api/#webhook-event-objects (checked
2026-12-03). Only one-to-one chats are served: group and room events are left out, as are
event types the bot has nothing to do with (unsend, video views, beacons...).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

CHANNEL = "line"
HANDLED = frozenset({"message", "postback", "follow", "unfollow"})
# Kept with each stored event: when our server received it, which is when its reply token's
# minute started as far as we can tell (LINE's `timestamp` is the user's action, on its clock).
RECEIVED = "lessonbotReceivedAt"


def event_key(webhook_event_id: str) -> str:
    """The inbox key of an event (a ULID: 26 characters), which also dedupes its handling."""
    return f"{CHANNEL}:{webhook_event_id}"


def updates(body: Any, received: datetime) -> list[tuple[str, dict[str, Any]]]:
    """(inbox key, event) for every event in `body` from a user that the bot handles."""
    found: list[tuple[str, dict[str, Any]]] = []
    events = body.get("events") if isinstance(body, dict) else None
    for event in events if isinstance(events, list) else ():
        if not isinstance(event, dict) or event.get("type") not in HANDLED:
            continue
        source, event_id = event.get("source"), event.get("webhookEventId")
        if not isinstance(source, dict) or source.get("type") != "user":
            continue
        if not isinstance(source.get("userId"), str) or not isinstance(event_id, str):
            continue
        found.append((event_key(event_id), event | {RECEIVED: received.isoformat()}))
    return found


def sender_of(update: dict[str, Any]) -> str | None:
    """Whose event it is, to keep each learner's in order."""
    source = update.get("source")
    return str(source.get("userId") or "") or None if isinstance(source, dict) else None


def received_at(update: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(update[RECEIVED]))
    except (KeyError, ValueError):
        return datetime.now(UTC)
