"""The Messenger channel: stored webhook events in, engine events out.

The inbox worker hands each stored event here, one learner's in order. A message or postback
becomes an engine event for `LessonService.handle`: a quick reply's signed payload a Press,
typed text a command or an answer, and a button the Page set up itself (Get Started, the
persistent menu) /start or the command its payload holds. The service stores the replies with
the progress and sends them through the channel's `WindowedSender`; a delivery event records
the receipt of broadcast messages. Messenger gives no country (the Philippines, Laos and
Myanmar share the Page) and no name without a profile call, so the learner is asked, as on
any app.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.channels.messenger.incoming import (
    CHANNEL,
    Message,
    message_key,
    postback_key,
    read_message,
)
from bot.channels.signing import verify
from bot.channels.typed import typed_event
from bot.channels.window import WindowedSender
from bot.engine import Event, Press, Start, Unsupported
from bot.service import LessonService
from bot.store import Identity

log = logging.getLogger(__name__)


class MessengerChannel:
    def __init__(self, service: LessonService, sender: WindowedSender) -> None:
        self.service = service
        self.sender = sender
        service.senders[CHANNEL] = sender.reply

    async def handle(self, update: dict[str, Any]) -> None:
        """Handle one stored update. A shape we can't read raises (the inbox sets it aside);
        anything else is logged, and the learner told by the service."""
        event = update["event"]
        if isinstance(event.get("delivery"), dict):
            for mid in event["delivery"].get("mids") or ():
                await self.sender.windows.record_receipt(str(mid), "delivered", None)
            return
        message = read_message(event)
        self.sender.heard(message.sender, message.sent_at)
        who = Identity(CHANNEL, message.sender, "", "")
        key = postback_key(event) if "postback" in event else message_key(message.id)
        try:
            await self.service.handle(who, self._event(message), update_key=key)
        except Exception:
            log.exception("unhandled error for Messenger message from %s", message.sender)

    def _event(self, message: Message) -> Event:
        if message.page_button:
            # Get Started (payload GET_STARTED, or whatever the admin set), or a persistent
            # menu item whose payload is a command ("/menu"): as if typed.
            if message.text.upper() in ("", "GET_STARTED") or message.ref:
                return Start(message.ref)
            return typed_event(message.text)
        if message.kind == "press":
            token = verify(self.sender.key, message.sender, message.text)
            if token is None:
                log.warning("refused a forged quick-reply payload from %s", message.sender)
            return Press(token or "")
        if message.kind == "text":
            return typed_event(message.text)
        return Unsupported(message.text or message.kind)
