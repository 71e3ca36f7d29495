"""Messenger in `lessonbot run`: its settings checked, its webhook route, its inbox worker."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.inbox import InboxWorker
from bot.channels.messenger.channel import MessengerChannel
from bot.channels.messenger.graph import MessengerGraph
from bot.channels.messenger.incoming import CHANNEL, sender_of
from bot.channels.messenger.platform import MessengerPlatform
from bot.channels.messenger.webhook import PATH, add_webhook
from bot.channels.signing import key_from_token
from bot.channels.window import WindowedSender
from bot.config import Settings
from bot.errors import ConfigError
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
    missing = [name for name in REQUIRED if not getattr(settings, name.lower())]
    if missing:
        raise ConfigError(
            "Messenger is not fully configured: "
            + "; ".join(f"{name} is not set ({REQUIRED[name]})" for name in missing)
        )


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


class Service:
    """The channel as `lessonbot run` serves it."""

    channel = CHANNEL

    def __init__(self, settings: Settings, service: LessonService, inbox: Inbox) -> None:
        check_settings(settings)
        self.settings = settings
        self.inbox = inbox
        self.deliverer = make_sender(settings, service.store.engine)
        self.handler = MessengerChannel(service, self.deliverer)
        self.worker = InboxWorker(inbox, CHANNEL, self.handler.handle, sender_of)

    def start(self, app: web.Application | None) -> list[Coroutine[Any, Any, None]]:
        """Add the webhook route; the loops to run while we serve."""
        assert app is not None, "Messenger needs the web server"

        async def store(found: list[tuple[str, dict[str, Any]]]) -> None:
            await self.inbox.receive(CHANNEL, found, datetime.now(UTC))
            self.worker.submit(found)

        add_webhook(
            app,
            verify_token=self.settings.messenger_verify_token,
            app_secret=self.settings.messenger_app_secret,
            store=store,
        )
        log.info("Messenger webhook at %s on port %s", PATH, self.settings.port)
        return [self.worker.run()]

    async def close(self) -> None:
        await self.deliverer.close()
