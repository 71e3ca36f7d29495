"""Broadcast delivery over Telegram: the `Deliverer` the broadcast sender uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.channels.telegram.api import BotApi, is_link
from bot.channels.telegram.signing import sign


@dataclass
class TelegramDeliverer:
    api: BotApi
    key: bytes  # the button-signing key, so a broadcast's "open lesson" button is trusted
    channel: str = "telegram"

    async def send(
        self, external_id: str, text: str, keyboard: list[list[tuple[str, str]]], photo: Path | None
    ) -> int:
        chat = int(external_id)
        if photo is not None:
            await self.api.send_media(chat, "photo", None, str(photo))
        signed = [
            [(label, data if is_link(data) else sign(self.key, chat, data)) for label, data in row]
            for row in keyboard
        ]
        sent = await self.api.send_text(chat, text, signed or None)
        return sent.message_id
