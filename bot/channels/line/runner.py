"""LINE in `lessonbot run`: its settings checked, its webhook route, its inbox worker.

On when LINE_CHANNEL_ACCESS_TOKEN is set; LINE_CHANNEL_SECRET checks webhook signatures and
keys the signed postback data; LINE_API_URL (default https://api.line.me) points the SDK at
another server (a gateway, the tests' fake).
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.inbox import InboxWorker
from bot.channels.line.channel import LineChannel
from bot.channels.line.client import LineApi
from bot.channels.line.incoming import CHANNEL, sender_of
from bot.channels.line.sender import LineSender
from bot.channels.line.webhook import PATH, add_webhook
from bot.channels.signing import key_from_token
from bot.config import Settings
from bot.errors import ConfigError
from bot.service import LessonService
from bot.store.inbox import Inbox

log = logging.getLogger(__name__)
__all__ = [
    "CHANNEL",
    "REQUIRED",
    "Service",
    "allowance",
    "check_settings",
    "configured",
    "make_sender",
]

REQUIRED = {
    "LINE_CHANNEL_ACCESS_TOKEN": (
        "LINE Developers Console > your Messaging API channel > Messaging API tab > "
        "Channel access token (long-lived)"
    ),
    "LINE_CHANNEL_SECRET": (
        "LINE Developers Console > your Messaging API channel > Basic settings tab > "
        "Channel secret, to check webhook signatures"
    ),
}


def configured(settings: Settings) -> bool:
    return bool(settings.line_channel_access_token)


def check_settings(settings: Settings) -> None:
    missing = [name for name in REQUIRED if not getattr(settings, name.lower())]
    if missing:
        raise ConfigError(
            "LINE_CHANNEL_ACCESS_TOKEN is set, so LINE is on, but "
            + "; ".join(f"{name} is not set ({REQUIRED[name]})" for name in missing)
        )


def _sender(settings: Settings) -> LineSender:
    api = LineApi(settings.line_api_url, settings.line_channel_access_token)
    return LineSender(api, key_from_token(settings.line_channel_secret))


def make_sender(settings: Settings, engine: AsyncEngine) -> LineSender:
    """The LINE deliverer (`engine` is unused: LINE keeps no window to read back)."""
    del engine
    return _sender(settings)


async def allowance(settings: Settings, engine: AsyncEngine, now: datetime) -> int | None:
    """Pushes left this month, read from LINE, for the broadcast dry run (None: no limit).
    Raises a DeliveryError if LINE can't be asked."""
    del engine, now  # LINE itself keeps the count
    sender = _sender(settings)
    try:
        return await sender.allowance()
    finally:
        await sender.close()


class Service:
    """The channel as `lessonbot run` serves it."""

    channel = CHANNEL

    def __init__(self, settings: Settings, service: LessonService, inbox: Inbox) -> None:
        check_settings(settings)
        self.settings = settings
        self.inbox = inbox
        self.deliverer = make_sender(settings, service.store.engine)
        self.handler = LineChannel(service, self.deliverer)
        self.worker = InboxWorker(inbox, CHANNEL, self.handler.handle, sender_of)

    def start(self, app: web.Application | None) -> list[Coroutine[Any, Any, None]]:
        """Add the webhook route; the loops to run while we serve."""
        assert app is not None, "LINE needs the web server"

        async def store(found: list[tuple[str, dict[str, Any]]]) -> None:
            await self.inbox.receive(CHANNEL, found, datetime.now(UTC))
            self.worker.submit(found)

        add_webhook(app, channel_secret=self.settings.line_channel_secret, store=store)
        log.info("LINE webhook at %s on port %s", PATH, self.settings.port)
        return [self.worker.run()]

    async def close(self) -> None:
        await self.deliverer.close()
