"""What the bridge needs from a Telegram framework.

Each adapter turns its framework's exceptions into the errors of `bot.channels.delivery`, so
retry and give-up rules live in one place and both frameworks behave identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.channels.delivery import (
    DeliveryError,
    Rejected,
    RetryLater,
    Transient,
    Unreachable,
)

# Rows of (label, data). Data starting with "https://" makes a link button; anything else is
# callback data (our tokens never start that way).
Keyboard = list[list[tuple[str, str]]]

__all__ = [
    "ALLOWED_UPDATES",
    "BotApi",
    "DeliveryError",
    "Keyboard",
    "Rejected",
    "RetryLater",
    "Sent",
    "Transient",
    "Unreachable",
    "is_link",
]


# The updates we ask Telegram for; everything else never reaches us.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


def is_link(data: str) -> bool:
    return data.startswith("https://")


@dataclass(frozen=True)
class Sent:
    message_id: int
    file_id: str | None = None  # for media, the id to send it again without uploading


class BotApi(Protocol):
    username: str

    async def send_text(self, chat_id: int, text: str, keyboard: Keyboard | None) -> Sent: ...

    async def send_media(self, chat_id: int, kind: str, file_id: str | None, path: str) -> Sent:
        """Send a file of `kind` (by `file_id` once Telegram gave one); Sent.file_id is its id.

        A step's recorded clip ("audio") goes by sendVoice, whatever its format: the Bot API
        takes OGG/Opus, MP3 and M4A there (core.telegram.org/bots/api#sendvoice, checked
        2026-12-03). A voice message plays in the chat with one tap, like the voice notes
        family and customers send; sendAudio would file it in the music player under a title
        and performer. The voice note is what a learner who reads little knows. One method
        also keeps one file id per clip (Telegram refuses an id sent as another kind). A learner
        whose privacy settings refuse voice messages (a Premium setting) makes Telegram answer
        400 VOICE_MESSAGES_FORBIDDEN: the bridge then sends the text alone, as for any clip
        refused.
        """
        ...

    async def send_upload(self, chat_id: int, kind: str, filename: str, data: bytes) -> Sent: ...

    async def answer_callback(self, callback_id: str) -> None: ...

    async def clear_keyboard(self, chat_id: int, message_id: int) -> None: ...

    async def set_commands(self, commands: list[tuple[str, str]], language: str | None) -> None: ...

    async def set_menu_button(self) -> None: ...

    async def set_webhook(self, url: str, secret: str) -> None: ...

    async def delete_webhook(self) -> None: ...
