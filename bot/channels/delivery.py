"""Delivery errors every channel maps its platform's failures to, and the broadcast interface.

Code outside `channels/` (the broadcast sender) handles failures through these, without
knowing which platform or framework is behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.errors import LessonBotError


class DeliveryError(LessonBotError):
    """A call to the messaging platform failed."""


class RetryLater(DeliveryError):
    """429: Telegram asks us to wait `seconds` before trying again."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Telegram asked to retry after {seconds}s")
        self.seconds = seconds


class Transient(DeliveryError):
    """5xx, a timeout or a network error: worth retrying after a pause."""


class Unreachable(DeliveryError):
    """403 or "chat not found": the learner blocked the bot or is gone; never retry."""


class Rejected(DeliveryError):
    """Any other 4xx: retrying would fail the same way."""


@dataclass(frozen=True)
class Delivered:
    """What one send produced."""

    message_id: int  # the platform's id for the message
    # With a photo: the platform's id for it, to pass back as `photo_id` so the next recipient
    # gets the same picture without another upload. None if the platform has no such id.
    photo_id: str | None = None


class Deliverer(Protocol):
    """Sends one message to one learner; raises the errors above.

    Every channel implements this. A broadcast photo is uploaded by the first send (`photo_id`
    None) and then sent by the id that send returned, so it travels once per broadcast.
    """

    channel: str

    async def send(
        self,
        external_id: str,
        text: str,
        keyboard: list[list[tuple[str, str]]],
        photo: Path | None,
        photo_id: str | None = None,
    ) -> Delivered:
        """Deliver `photo` (if any; by `photo_id` when given) and then `text` with its buttons.
        Button data as in the Telegram Keyboard."""
        ...
