"""WhatsApp in `lessonbot run`: its settings checked, its webhook route, its inbox worker."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.served import Store, WebhookService, check_required
from bot.channels.signing import key_from_token
from bot.channels.templates import Templates, load_templates
from bot.channels.whatsapp.channel import WhatsAppChannel
from bot.channels.whatsapp.graph import Graph
from bot.channels.whatsapp.incoming import CHANNEL, sender_of
from bot.channels.whatsapp.sender import WhatsAppPlatform, WhatsAppSender
from bot.channels.whatsapp.webhook import PATH, add_webhook
from bot.config import Settings
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
    check_required(settings, "WhatsApp", "WHATSAPP_TOKEN", REQUIRED)


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


class Service(WebhookService):
    """The channel as `lessonbot run` serves it."""

    def __init__(self, settings: Settings, service: LessonService, inbox: Inbox) -> None:
        check_settings(settings)
        sender = make_sender(settings, service.store.engine)

        def routes(app: web.Application, store: Store) -> None:
            add_webhook(
                app,
                verify_token=settings.whatsapp_verify_token,
                app_secret=settings.whatsapp_app_secret,
                phone_number_id=settings.whatsapp_phone_number_id,
                store=store,
            )

        handler = WhatsAppChannel(service, sender)
        super().__init__(
            CHANNEL, sender, handler.handle, sender_of, inbox, routes, path=PATH, port=settings.port
        )
