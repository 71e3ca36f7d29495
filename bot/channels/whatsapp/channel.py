"""The WhatsApp channel: stored webhook updates in, engine events out, replies sent in the window.

The inbox worker hands each stored update here, one learner's in order. A message becomes an
engine event for `LessonService.handle`, which stores the replies with the progress and sends
them through `WhatsAppSender`; a status (sent, delivered, read, failed) updates the delivery
record of a broadcast message, and an undeliverable one marks the learner unreachable.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bot.channels.signing import verify
from bot.channels.typed import typed_event
from bot.channels.whatsapp.graph import UNDELIVERABLE
from bot.channels.whatsapp.incoming import CHANNEL, Message, message_key, read_message
from bot.channels.whatsapp.phone import country_of
from bot.channels.whatsapp.sender import WhatsAppSender
from bot.engine import Event, Press, Say, Unsupported
from bot.service import LessonService
from bot.store import Identity

log = logging.getLogger(__name__)


class WhatsAppChannel:
    def __init__(self, service: LessonService, sender: WhatsAppSender) -> None:
        self.service = service
        self.sender = sender
        service.senders[CHANNEL] = self.reply

    async def handle(self, update: dict[str, Any]) -> None:
        """Handle one stored update. A shape we can't read raises (the inbox sets it aside);
        anything else is logged, and the learner told by the service."""
        if isinstance(update.get("status"), dict):
            await self._status(update["status"])
            return
        message = read_message(update)
        if message.kind == "ignored":
            return
        self.sender.heard(message.sender, message.sent_at)
        try:
            # Blue ticks while the reply is made: on a slow connection the learner sees we have it.
            await self.sender.graph.mark_read(message.id)
        except Exception as exc:
            log.info("could not mark a WhatsApp message read: %s", exc)
        who = Identity(
            CHANNEL, message.sender, message.name, "", country_hint=country_of(message.sender)
        )
        try:
            await self.service.handle(who, self._event(message), update_key=message_key(message.id))
        except Exception:
            log.exception("unhandled error for WhatsApp message from %s", message.sender)

    def _event(self, message: Message) -> Event:
        if message.kind == "reply":
            token = verify(self.sender.key, message.sender, message.text)
            if token is None:
                log.warning("refused a forged reply id from %s", message.sender)
            return Press(token or "")
        if message.kind == "text":
            return typed_event(message.text)
        return Unsupported(message.text or message.kind)

    async def reply(self, address: str, messages: Sequence[Say]) -> None:
        """How the service sends replies (after the transaction that stored them commits)."""
        await self.sender.deliver(address, messages)

    async def _status(self, status: dict[str, Any]) -> None:
        errors = [e for e in status.get("errors") or () if isinstance(e, dict)]
        reason = "; ".join(
            f"WhatsApp error {e.get('code')}: {e.get('title') or e.get('message') or ''}".strip()
            for e in errors
        )
        await self.sender.windows.record_receipt(
            str(status["id"]), str(status["status"]), reason or None
        )
        if status["status"] == "failed" and any(e.get("code") in UNDELIVERABLE for e in errors):
            recipient = str(status.get("recipient_id") or "")
            log.info("WhatsApp learner %s is unreachable: %s", recipient, reason)
            await self.service.store.set_status(Identity(CHANNEL, recipient), "blocked")
