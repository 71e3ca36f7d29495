"""LINE in `lessonbot run`: its settings checked, its webhook route, its inbox worker.

On when LINE_CHANNEL_ACCESS_TOKEN is set; LINE_CHANNEL_SECRET checks webhook signatures and
keys the signed postback data; LINE_API_URL (default https://api.line.me) points the SDK at
another server (a gateway, the tests' fake).
"""

from __future__ import annotations

import logging
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.line.channel import LineChannel
from bot.channels.line.client import LineApi
from bot.channels.line.incoming import CHANNEL, sender_of
from bot.channels.line.sender import LineSender
from bot.channels.line.webhook import PATH, add_webhook
from bot.channels.served import Store, WebhookService, check_required
from bot.channels.signing import key_from_token
from bot.config import Settings
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
    check_required(settings, "LINE", "LINE_CHANNEL_ACCESS_TOKEN", REQUIRED)


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


class Service(WebhookService):
    """The channel as `lessonbot run` serves it."""

    def __init__(self, settings: Settings, service: LessonService, inbox: Inbox) -> None:
        check_settings(settings)
        sender = make_sender(settings, service.store.engine)

        def routes(app: web.Application, store: Store) -> None:
            add_webhook(app, channel_secret=settings.line_channel_secret, store=store)

        handler = LineChannel(service, sender)
        super().__init__(
            CHANNEL, sender, handler.handle, sender_of, inbox, routes, path=PATH, port=settings.port
        )
