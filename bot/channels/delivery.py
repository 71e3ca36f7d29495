"""Delivery errors every channel maps its platform's failures to, and the broadcast interface.

Code outside `channels/` (the broadcast sender) handles failures through these, without
knowing which platform or framework is behind them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from bot.channels.capabilities import Capabilities
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


class NotAllowed(DeliveryError):
    """The platform's rules forbid this message now, so it was not attempted: the learner's
    free-messaging window is closed and nothing may carry it outside (no approved template for
    its purpose in their language). The text says which rule, for the admin's report."""


class OverQuota(DeliveryError):
    """A quota of the channel is used up (WhatsApp's messaging tier of users per 24 h): not
    attempted; worth trying again at `until`."""

    def __init__(self, reason: str, until: datetime) -> None:
        super().__init__(reason)
        self.until = until


class PartlySent(DeliveryError):
    """Of a batch of messages, the first `sent` went out; the next failed with `cause`."""

    def __init__(self, sent: int, cause: Exception) -> None:
        super().__init__(f"{sent} message(s) sent, then: {cause}")
        self.sent = sent
        self.cause = cause


# Why the bot writes first: a template's purpose, when only a template may carry it.
Purpose = Literal["reminder", "survey", "broadcast"]


@dataclass(frozen=True)
class Proactive:
    """A message the learner did not just ask for, and what a template for it is filled with
    (`values` by parameter name: "name", "course", "text")."""

    purpose: Purpose
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivered:
    """What one send produced."""

    message_id: int | str  # the platform's id for the message (WhatsApp's are strings)
    # With a photo: the platform's id for it, to pass back as `photo_id` so the next recipient
    # gets the same picture without another upload. None if the platform has no such id.
    photo_id: str | None = None


class Deliverer(Protocol):
    """Sends one message to one learner; raises the errors above.

    Every channel implements this. A broadcast photo is uploaded by the first send (`photo_id`
    None) and then sent by the id that send returned, so it travels once per broadcast.
    """

    channel: str
    capabilities: Capabilities

    async def send(
        self,
        external_id: str,
        text: str,
        keyboard: list[list[tuple[str, str]]],
        photo: Path | None,
        photo_id: str | None = None,
        *,
        proactive: Proactive | None = None,
    ) -> Delivered:
        """Deliver `photo` (if any; by `photo_id` when given) and then `text` with its buttons
        (label, engine token or link). `proactive` says why the bot writes first: where the
        channel's window is closed, a template for that purpose carries it, or NotAllowed."""
        ...
