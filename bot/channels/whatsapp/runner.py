"""WhatsApp in `lessonbot run`: its settings checked, its webhook route, its inbox worker."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.inbox import InboxWorker
from bot.channels.signing import key_from_token
from bot.channels.templates import Templates, load_templates
from bot.channels.whatsapp.channel import WhatsAppChannel
from bot.channels.whatsapp.graph import Graph
from bot.channels.whatsapp.incoming import CHANNEL, sender_of
from bot.channels.whatsapp.sender import WhatsAppPlatform, WhatsAppSender
from bot.channels.whatsapp.webhook import PATH, add_webhook
from bot.config import Settings
from bot.errors import ConfigError
from bot.service import LessonService
from bot.store import LearnerStore
from bot.store.inbox import Inbox

log = logging.getLogger(__name__)

REQUIRED = {
    "WHATSAPP_PHONE_NUMBER_ID": "the number's id from WhatsApp Manager > API setup",
    "WHATSAPP_APP_SECRET": "the Meta app's secret (App settings > Basic), to check signatures",
    "WHATSAPP_VERIFY_TOKEN": "a random string you also enter as the webhook's verify token",
}


def configured(settings: Settings) -> bool:
    """WhatsApp is on when its token is set."""
    return bool(settings.whatsapp_token)


def check_settings(settings: Settings) -> None:
    missing = [name for name in REQUIRED if not getattr(settings, name.lower())]
    if missing:
        raise ConfigError(
            "WHATSAPP_TOKEN is set, so WhatsApp is on, but "
            + "; ".join(f"{name} is not set ({REQUIRED[name]})" for name in missing)
        )


def templates_of(settings: Settings) -> Templates:
    """The template registry; its problems are logged (authors run `lessonbot lint`)."""
    templates, problems = load_templates(settings.whatsapp_templates)
    for problem in problems:
        log.error("%s", problem)
    return templates


def make_sender(settings: Settings, engine: AsyncEngine) -> WhatsAppSender:
    graph = Graph(
        settings.whatsapp_api_url, settings.whatsapp_token, settings.whatsapp_phone_number_id
    )
    store = LearnerStore(engine)
    key = key_from_token(settings.whatsapp_app_secret)
    platform = WhatsAppPlatform(
        graph, store, templates_of(settings), key, tier=settings.whatsapp_tier_users
    )
    return WhatsAppSender(platform, store, key, CHANNEL)


class Service:
    """The channel as `lessonbot run` serves it."""

    channel = CHANNEL

    def __init__(self, settings: Settings, service: LessonService, inbox: Inbox) -> None:
        check_settings(settings)
        self.settings = settings
        self.inbox = inbox
        self.deliverer = make_sender(settings, service.store.engine)
        self.handler = WhatsAppChannel(service, self.deliverer)
        self.worker = InboxWorker(inbox, CHANNEL, self.handler.handle, sender_of)

    def start(self, app: web.Application | None) -> list[Coroutine[Any, Any, None]]:
        """Add the webhook route; the loops to run while we serve."""
        assert app is not None, "WhatsApp needs the web server"

        async def store(found: list[tuple[str, dict[str, Any]]]) -> None:
            await self.inbox.receive(CHANNEL, found, datetime.now(UTC))
            self.worker.submit(found)

        add_webhook(
            app,
            verify_token=self.settings.whatsapp_verify_token,
            app_secret=self.settings.whatsapp_app_secret,
            phone_number_id=self.settings.whatsapp_phone_number_id,
            store=store,
        )
        log.info("WhatsApp webhook at %s on port %s", PATH, self.settings.port)
        return [self.worker.run()]

    async def close(self) -> None:
        await self.deliverer.close()
