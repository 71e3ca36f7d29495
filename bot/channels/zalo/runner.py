"""Zalo in `lessonbot run`: its settings checked, its webhook route, its inbox worker."""

from __future__ import annotations

import logging
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.served import Store, WebhookService, check_required
from bot.channels.signing import key_from_token
from bot.channels.window import WindowedSender
from bot.channels.zalo.api import ZaloApi
from bot.channels.zalo.channel import ZaloChannel
from bot.channels.zalo.incoming import CHANNEL, sender_of
from bot.channels.zalo.platform import ZaloPlatform
from bot.channels.zalo.tokens import TokenPair, TokenStore
from bot.channels.zalo.webhook import PATH, add_webhook
from bot.config import Settings
from bot.service import LessonService
from bot.store import LearnerStore
from bot.store.inbox import Inbox

log = logging.getLogger(__name__)

REQUIRED = {
    "ZALO_APP_ID": "the app's id (developers.zalo.me > your app > Settings)",
    "ZALO_OA_SECRET": "the OA secret key (your app > Webhook), to check webhook signatures",
    "ZALO_APP_SECRET": "the app's secret key (your app > Settings), to refresh access tokens",
    "ZALO_REFRESH_TOKEN": (
        "the refresh token the OA admin's authorization gave with the access token "
        "(your app > Official Account > API explorer), to get the next pair"
    ),
}


def configured(settings: Settings) -> bool:
    return bool(settings.zalo_oa_access_token)


def check_settings(settings: Settings) -> None:
    check_required(settings, "Zalo", "ZALO_OA_ACCESS_TOKEN", REQUIRED)


def make_api(settings: Settings, engine: AsyncEngine) -> ZaloApi:
    configured_pair = TokenPair(settings.zalo_oa_access_token, settings.zalo_refresh_token, None)
    return ZaloApi(
        api_url=settings.zalo_api_url,
        oauth_url=settings.zalo_oauth_url,
        app_id=settings.zalo_app_id,
        app_secret=settings.zalo_app_secret,
        tokens=TokenStore(engine, configured_pair),
    )


def make_sender(settings: Settings, engine: AsyncEngine) -> WindowedSender:
    key = key_from_token(settings.zalo_oa_secret)
    store = LearnerStore(engine)
    platform = ZaloPlatform(
        make_api(settings, engine), store, key, monthly=settings.zalo_proactive_monthly
    )
    return WindowedSender(platform, store, key, CHANNEL)


async def allowance(settings: Settings, engine: AsyncEngine, now: datetime) -> int | None:
    """Proactive messages left this month of ZALO_PROACTIVE_MONTHLY, for the broadcast dry run
    (counted from what every process of ours sent; Zalo has no API that says)."""
    platform = ZaloPlatform(make_api(settings, engine), LearnerStore(engine), b"", 0)
    try:
        return max(0, settings.zalo_proactive_monthly - await platform.proactive_used(now))
    finally:
        await platform.close()


class Service(WebhookService):
    """The channel as `lessonbot run` serves it."""

    def __init__(self, settings: Settings, service: LessonService, inbox: Inbox) -> None:
        check_settings(settings)
        sender = make_sender(settings, service.store.engine)

        def routes(app: web.Application, store: Store) -> None:
            add_webhook(
                app, app_id=settings.zalo_app_id, oa_secret=settings.zalo_oa_secret, store=store
            )

        handler = ZaloChannel(service, sender)
        super().__init__(
            CHANNEL, sender, handler.handle, sender_of, inbox, routes, path=PATH, port=settings.port
        )
