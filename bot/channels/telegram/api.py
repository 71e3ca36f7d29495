"""What the bridge needs from a Telegram framework, and the errors every adapter maps to.

Each adapter turns its framework's exceptions into these, so retry and give-up rules live in one
place (the bridge) and both frameworks behave identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.errors import LessonBotError

Keyboard = list[list[tuple[str, str]]]  # rows of (label, callback data)


class TelegramCallError(LessonBotError):
    """A Bot API call failed."""


class RetryLater(TelegramCallError):
    """429: Telegram asks us to wait `seconds` before trying again."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Telegram asked to retry after {seconds}s")
        self.seconds = seconds


class Transient(TelegramCallError):
    """5xx, a timeout or a network error: worth retrying after a pause."""


class Unreachable(TelegramCallError):
    """403 or "chat not found": the learner blocked the bot or is gone; never retry."""


class Rejected(TelegramCallError):
    """Any other 4xx: retrying would fail the same way."""


@dataclass(frozen=True)
class Sent:
    message_id: int
    file_id: str | None = None  # for media, the id to send it again without uploading


class BotApi(Protocol):
    username: str

    async def send_text(self, chat_id: int, text: str, keyboard: Keyboard | None) -> Sent: ...

    async def send_media(self, chat_id: int, kind: str, file_id: str | None,
                         path: str) -> Sent: ...

    async def answer_callback(self, callback_id: str) -> None: ...

    async def clear_keyboard(self, chat_id: int, message_id: int) -> None: ...

    async def set_commands(self, commands: list[tuple[str, str]],
                           language: str | None) -> None: ...

    async def set_menu_button(self) -> None: ...

    async def set_webhook(self, url: str, secret: str) -> None: ...

    async def delete_webhook(self) -> None: ...
