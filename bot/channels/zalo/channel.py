"""The Zalo channel: stored webhook events in, engine events out, replies sent in the window.

The inbox worker hands each stored event here, one learner's in order:
- a learner's text becomes an engine event for `LessonService.handle`, which stores the
  replies with the progress and sends them through the `WindowedSender`. A tapped button
  arrives the same way, as text carrying the button's payload: our signed engine token, which
  becomes a `Press` (a forged or another learner's one an empty press the engine refuses);
- a picture, a sticker or a file is something the engine says it can't read;
- `unfollow` marks the learner blocked (nothing reaches them), `follow` active again;
- receipts (received, seen) update the delivery record of a broadcast message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from bot.channels.signing import verify
from bot.channels.typed import typed_event
from bot.channels.window import WindowedSender
from bot.channels.zalo.api import ZaloApi
from bot.channels.zalo.incoming import (
    CHANNEL,
    FOLLOWS,
    RECEIPTS,
    Message,
    message_key,
    read_message,
    sent_at,
)
from bot.engine import Event, Press, Say, Unsupported
from bot.service import LessonService
from bot.store import Identity
from bot.store.personal import FIRST_NAME_LIMIT, storable

log = logging.getLogger(__name__)
# What a button payload looks like (an engine token, "~", its tag): a learner types no such thing.
PAYLOAD = re.compile(r"[a-z]:\S*~\S*")


NAMES_KEPT = 100_000  # learners whose Zalo name is remembered, so it is asked for once


def identity(user_id: str, name: str = "") -> Identity:
    """A Zalo learner: Vietnamese and in Vietnam, until they say otherwise."""
    return Identity(CHANNEL, user_id, name, "vi", country_hint="VN")


class ZaloChannel:
    def __init__(self, service: LessonService, sender: WindowedSender) -> None:
        self.service = service
        self.sender = sender
        self.api: ZaloApi = sender.platform.api  # type: ignore[attr-defined]
        self._names: dict[str, str] = {}
        service.senders[CHANNEL] = self.reply

    async def name_of(self, user_id: str) -> str:
        """The learner's Zalo name (a greeting, the certificate's first offer), asked of Zalo
        once per process: webhook events carry no name. "" when Zalo can't say."""
        if user_id not in self._names:
            try:
                name = storable(await self.api.user_name(user_id), FIRST_NAME_LIMIT)
            except Exception as exc:
                log.info("could not read a Zalo learner's name: %s", exc)
                return ""
            if len(self._names) >= NAMES_KEPT:
                self._names.clear()
            self._names[user_id] = name
        return self._names[user_id]

    async def handle(self, update: dict[str, Any]) -> None:
        """Handle one stored event. A shape we can't read raises (the inbox sets it aside);
        anything else is logged, and the learner told by the service."""
        name = update["event_name"]
        if name in FOLLOWS:
            user = str(update["follower"]["id"])
            status = "blocked" if name == "unfollow" else "active"
            log.info("Zalo learner %s: %s", user, name)
            await self.service.store.set_status(identity(user), status)
            return
        if name in RECEIPTS:
            for msg_id in (update.get("message") or {}).get("msg_ids") or ():
                await self.sender.windows.record_receipt(str(msg_id), RECEIPTS[name], None)
            return
        message = read_message(update)
        self.sender.heard(message.sender, sent_at(update))
        key = message_key(message.id) if message.id else None
        name = await self.name_of(message.sender)
        try:
            who, event = identity(message.sender, name), self._event(message)
            await self.service.handle(who, event, update_key=key)
        except Exception:
            log.exception("unhandled error for a Zalo message from %s", message.sender)

    def _event(self, message: Message) -> Event:
        if message.kind != "text":
            return Unsupported(message.text)
        text = message.text.strip()
        if PAYLOAD.fullmatch(text):
            token = verify(self.sender.key, message.sender, text)
            if token is None:
                log.warning("refused a forged button payload from %s", message.sender)
            return Press(token or "")
        return typed_event(text)

    async def reply(self, address: str, messages: Sequence[Say]) -> None:
        """How the service sends a turn's replies (after the transaction that stored them)."""
        await self.sender.reply(address, messages)
