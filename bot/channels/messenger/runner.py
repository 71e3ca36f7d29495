"""Messenger in `lessonbot run`: its settings checked, its webhook route, its inbox worker."""

from __future__ import annotations

import logging
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.messenger.channel import MessengerChannel
from bot.channels.messenger.graph import MessengerGraph
from bot.channels.messenger.incoming import CHANNEL, sender_of
from bot.channels.messenger.platform import MessengerPlatform
from bot.channels.messenger.webhook import PATH, add_webhook
from bot.channels.served import Store, WebhookService, check_required
from bot.channels.signing import key_from_token
from bot.channels.window import WindowedSender
from bot.config import Settings
from bot.service import LessonService
from bot.store import LearnerStore
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
    "MESSENGER_PAGE_TOKEN": "the Page access token: Meta app dashboard > Messenger > "
    "Messenger API Settings > Generate access tokens",
    "MESSENGER_APP_SECRET": "the Meta app's secret (App settings > Basic), to check signatures",
    "MESSENGER_VERIFY_TOKEN": "a random string you also enter as the webhook's verify token "
    "(Messenger API Settings > Configure webhooks)",
}


def configured(settings: Settings) -> bool:
    return bool(settings.messenger_page_token)


def check_settings(settings: Settings) -> None:
    check_required(settings, "Messenger", "MESSENGER_PAGE_TOKEN", REQUIRED)


def make_sender(settings: Settings, engine: AsyncEngine) -> WindowedSender:
    graph = MessengerGraph(settings.messenger_api_url, settings.messenger_page_token)
    store = LearnerStore(engine)
    key = key_from_token(settings.messenger_app_secret)
    return WindowedSender(MessengerPlatform(graph, store, key), store, key, CHANNEL)


async def allowance(settings: Settings, engine: AsyncEngine, now: datetime) -> int | None:
    """Counted messages left this month, for the broadcast dry run: none are counted on
    Messenger (inside the window it is free, and outside nothing goes)."""
    del settings, engine, now
    return None


class Service(WebhookService):
    """The channel as `lessonbot run` serves it."""

    def __init__(self, settings: Settings, service: LessonService, inbox: Inbox) -> None:
        check_settings(settings)
        sender = make_sender(settings, service.store.engine)

        def routes(app: web.Application, store: Store) -> None:
            add_webhook(
                app,
                verify_token=settings.messenger_verify_token,
                app_secret=settings.messenger_app_secret,
                store=store,
            )

        handler = MessengerChannel(service, sender)
        super().__init__(
            CHANNEL, sender, handler.handle, sender_of, inbox, routes, path=PATH, port=settings.port
        )
