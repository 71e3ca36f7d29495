"""Broadcast delivery over Telegram: the `Deliverer` the broadcast sender uses.

A photo goes through the framework adapter, uploaded by the first send and then sent by its
`file_id`. Text goes the same way, except on aiogram, where it is one plain JSON `sendMessage`
on aiogram's own HTTP session: building and parsing aiogram's models costs about as much CPU
per message as all the rest of a broadcast, and at 1000 messages/s that is the difference
(docs/performance.md). The answer is read with the adapters' rules, so both paths fail alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.channels.capabilities import TELEGRAM, Capabilities
from bot.channels.delivery import (
    Delivered,
    Proactive,
    Rejected,
    RetryLater,
    Transient,
    Unreachable,
)
from bot.channels.signing import sign
from bot.channels.telegram.api import BotApi, Keyboard, is_link

TIMEOUT = aiohttp.ClientTimeout(total=60)  # aiogram's own default


@dataclass
class TelegramDeliverer:
    api: BotApi
    key: bytes  # the button-signing key, so a broadcast's "open lesson" button is trusted
    channel: str = "telegram"
    capabilities: Capabilities = TELEGRAM
    _plain: PlainText | None = field(default=None, init=False, repr=False)
    _looked: bool = field(default=False, init=False, repr=False)

    async def send(
        self,
        external_id: str,
        text: str,
        keyboard: list[list[tuple[str, str]]],
        photo: Path | None,
        photo_id: str | None = None,
        *,
        proactive: Proactive | None = None,  # Telegram has no window: anything may go out
    ) -> Delivered:
        chat = int(external_id)
        reuse: str | None = None
        if photo is not None:
            # By file_id when we have one: Telegram keeps the file, nothing is uploaded again.
            shown = await self.api.send_media(chat, "photo", photo_id, str(photo))
            reuse = shown.file_id or photo_id
        signed = [
            [(label, data if is_link(data) else sign(self.key, chat, data)) for label, data in row]
            for row in keyboard
        ]
        plain = self._plain_text()
        if plain is not None:
            return Delivered(await plain.send(chat, text, signed), reuse)
        sent = await self.api.send_text(chat, text, signed or None)
        return Delivered(sent.message_id, reuse)

    def _plain_text(self) -> PlainText | None:
        if not self._looked:
            self._looked = True
            self._plain = PlainText.over(self.api)
        return self._plain


@dataclass
class PlainText:
    """`sendMessage` as one JSON POST on aiogram's session (its pool, its headers)."""

    session: Any  # aiogram's AiohttpSession
    url: str

    @classmethod
    def over(cls, api: BotApi) -> PlainText | None:
        """For the aiogram adapter's api; None for any other (it sends through its framework)."""
        bot = getattr(api, "bot", None)
        session = getattr(bot, "session", None)
        server = getattr(session, "api", None)
        token = getattr(bot, "token", None)
        if not (hasattr(session, "create_session") and hasattr(server, "api_url") and token):
            return None
        return cls(session, server.api_url(token=token, method="sendMessage"))  # type: ignore[union-attr]

    async def send(self, chat: int, text: str, keyboard: Keyboard) -> int:
        body: dict[str, Any] = {"chat_id": chat, "text": text, "parse_mode": "HTML"}
        if keyboard:
            body["reply_markup"] = {
                "inline_keyboard": [
                    [
                        {"text": label, "url" if is_link(data) else "callback_data": data}
                        for label, data in row
                    ]
                    for row in keyboard
                ]
            }
        http: aiohttp.ClientSession = await self.session.create_session()
        try:
            async with http.post(self.url, json=body, timeout=TIMEOUT) as response:
                status, raw = response.status, await response.text()
        except TimeoutError as exc:
            raise Transient("Request timeout error") from exc
        except aiohttp.ClientError as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        return read_answer(status, raw)


def read_answer(status: int, raw: str) -> int:
    """The sent message's id, or the delivery error the adapters would raise for this answer."""
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "ok" not in answer:
        # A proxy's HTML error page, a cut-off body: nothing says what happened; try again.
        raise Transient(f"HTTP {status} with a body that is not a Bot API answer: {raw[:80]!r}")
    if answer["ok"] and 200 <= status < 300:
        result = answer.get("result")
        return int(result.get("message_id", 0)) if isinstance(result, dict) else 0
    description = str(answer.get("description") or f"HTTP {status}")
    parameters = answer.get("parameters") or {}
    if isinstance(parameters, dict) and parameters.get("retry_after"):
        raise RetryLater(float(parameters["retry_after"]))
    if status == 403:
        raise Unreachable(description)
    if status == 400 and "chat not found" in description.lower():
        raise Unreachable(description)
    if status >= 500:
        raise Transient(description)
    raise Rejected(description)
