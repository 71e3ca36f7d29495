"""Telegram in `lessonbot run`: polling, or a webhook route when WEBHOOK_URL is set."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web

from bot.broadcast.forecast import channel_rules
from bot.broadcast.outbox import Outbox
from bot.channels.inbox import InboxWorker
from bot.channels.signing import key_from_token
from bot.channels.telegram.admin import AdminDesk
from bot.channels.telegram.api import BotApi
from bot.channels.telegram.bridge import TelegramBridge
from bot.channels.telegram.broadcasts import TelegramDeliverer
from bot.channels.telegram.polling import CHANNEL, Poller, sender_of, update_key
from bot.channels.telegram.webhook import add_webhook
from bot.config import Settings
from bot.errors import ConfigError
from bot.report.build import reader
from bot.service import LessonService
from bot.store.admins import Roles
from bot.store.inbox import Inbox

log = logging.getLogger(__name__)

NO_TOKEN = (
    "BOT_TOKEN is not set: get a token from @BotFather, then run "
    "`BOT_TOKEN=123456:ABC... lessonbot run` or put BOT_TOKEN=... in a .env file. "
    "To try the lessons without Telegram, run `lessonbot chat`."
)


class Adapter(Protocol):
    @property
    def api(self) -> BotApi: ...

    async def start(self, on_update: Any) -> None: ...

    async def feed(self, update: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


def make_adapter(settings: Settings) -> Adapter:
    """The configured framework's adapter; only this one framework gets imported."""
    if settings.telegram_framework == "ptb":
        from bot.channels.telegram.ptb_adapter import PtbAdapter

        return PtbAdapter(settings.bot_token, settings.telegram_api_url)
    from bot.channels.telegram.aiogram_adapter import AiogramAdapter

    return AiogramAdapter(settings.bot_token, settings.telegram_api_url)


def check_settings(settings: Settings) -> None:
    if not settings.bot_token:
        raise ConfigError(NO_TOKEN)
    if not settings.webhook_url:
        return  # polling: no webhook, and the secret is not used
    secret = settings.webhook_secret
    # Telegram's setWebhook takes a secret_token of 1-256 characters from A-Z a-z 0-9 _ -;
    # fewer than 16 can be guessed by whoever finds the URL.
    generate = "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
    if not secret:
        raise ConfigError(
            "WEBHOOK_URL is set but WEBHOOK_SECRET is not: set WEBHOOK_SECRET to a random "
            "string of 16 to 256 letters, digits, _ and -, so only Telegram can post "
            f"updates; {generate}"
        )
    if len(secret) < 16:
        raise ConfigError(
            f"WEBHOOK_SECRET must be at least 16 characters (it has {len(secret)}); {generate}"
        )
    if len(secret) > 256:
        raise ConfigError(
            "WEBHOOK_SECRET must be at most 256 characters, Telegram's limit "
            f"(it has {len(secret)}); {generate}"
        )
    if not all(c.isascii() and (c.isalnum() or c in "_-") for c in secret):
        raise ConfigError(
            "WEBHOOK_SECRET may hold only the letters A-Z and a-z, the digits 0-9, _ and -, "
            f"as Telegram requires; {generate}"
        )


@asynccontextmanager
async def open_deliverer(settings: Settings) -> AsyncIterator[TelegramDeliverer]:
    """A connection to the Bot API for sending only (broadcasts from the CLI or the worker)."""
    check_settings(settings)
    adapter = make_adapter(settings)
    try:
        await adapter.start(None)
        yield TelegramDeliverer(adapter.api, key_from_token(settings.bot_token))
    finally:
        await adapter.close()


class TelegramService:
    """The channel as `lessonbot run` serves it: polling, or a webhook route on the server."""

    channel = CHANNEL

    def __init__(self, settings: Settings, service: LessonService, inbox: Inbox) -> None:
        check_settings(settings)
        self.settings = settings
        self.service = service
        self.inbox = inbox
        self.adapter = make_adapter(settings)
        self.key = key_from_token(settings.bot_token)
        self.deliverer = TelegramDeliverer(self.adapter.api, self.key)
        self.worker = InboxWorker(inbox, CHANNEL, self.adapter.feed, sender_of)
        self.report_engine = reader(settings.database_url)
        engine = service.store.engine
        admin = AdminDesk(
            Roles(engine),
            Outbox(engine),
            service.library,
            Path(settings.broadcasts_dir),
            tuple(service.languages),
            self.report_engine,
            channels=channel_rules(settings),
        )
        self.bridge = TelegramBridge(service, self.adapter.api, settings.bot_token, admin=admin)

    async def open(self) -> None:
        """Connect (getMe) and register the command menus, before anything is served."""
        await self.adapter.start(self.bridge.handle)
        if self.adapter.api.username:  # from getMe: certificates say where to /verify them
            self.service.bot_handle = f"@{self.adapter.api.username}"
        await self.bridge.register_commands()

    def start(self, app: web.Application | None) -> list[Coroutine[Any, Any, None]]:
        """The webhook route (with WEBHOOK_URL) or the poller; the loops to run while we serve."""
        settings, api = self.settings, self.adapter.api
        loops: list[Coroutine[Any, Any, None]] = [self.worker.run()]
        if settings.webhook_url:
            assert app is not None, "WEBHOOK_URL needs the web server"

            async def store(update: dict[str, Any]) -> None:
                batch = [(update_key(update["update_id"]), update)]
                await self.inbox.receive(CHANNEL, batch, datetime.now(UTC))
                self.worker.submit(batch)

            path = urlsplit(settings.webhook_url).path or "/"
            add_webhook(app, path, settings.webhook_secret, store)
            log.info("Telegram webhook at %s on port %s", path, settings.port)
            loops.append(
                self.bridge.call(
                    lambda: api.set_webhook(settings.webhook_url, settings.webhook_secret)
                )
            )
        else:

            async def poll() -> None:
                await self.bridge.call(api.delete_webhook)  # Telegram allows one or the other
                log.info("polling %s as @%s", settings.telegram_api_url, api.username)
                poller = Poller(
                    settings.telegram_api_url, settings.bot_token, self.inbox, self.worker.submit
                )
                await poller.run()

            loops.append(poll())
        return loops

    async def close(self) -> None:
        await self.adapter.close()
        await self.report_engine.dispose()
