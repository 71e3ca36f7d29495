"""`lessonbot run`: serve Telegram by polling, or by webhook when WEBHOOK_URL is set."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_service, open_database
from bot.broadcast.outbox import Outbox
from bot.broadcast.sender import configured_sender
from bot.channels.inbox import InboxWorker
from bot.channels.telegram.admin import AdminDesk
from bot.channels.telegram.api import BotApi
from bot.channels.telegram.bridge import TelegramBridge
from bot.channels.telegram.broadcasts import TelegramDeliverer
from bot.channels.telegram.polling import CHANNEL, Poller, sender_of, update_key
from bot.channels.telegram.signing import key_from_token
from bot.channels.telegram.webhook import webhook_app
from bot.config import Settings
from bot.content import Library
from bot.engine import Texts
from bot.errors import ConfigError
from bot.journey.followups import FollowUps, Policy
from bot.journey.followups import run_forever as run_followups
from bot.report.build import reader
from bot.service import relay_forever
from bot.store.admins import Roles
from bot.store.health import Health, check_database
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


async def serve(settings: Settings, *, worker: bool = True) -> None:
    """Serve learners; with `worker`, also send due broadcasts from this process."""
    check_settings(settings)
    engine = await open_database(settings)
    service = build_service(settings, engine)
    adapter = make_adapter(settings)
    roles = Roles(engine)
    await roles.bootstrap(settings.admins, datetime.now(UTC))
    report_engine = reader(settings.database_url)
    admin = AdminDesk(
        roles,
        Outbox(engine),
        service.library,
        Path(settings.broadcasts_dir),
        tuple(service.languages),
        report_engine,
    )
    bridge = TelegramBridge(service, adapter.api, settings.bot_token, admin=admin)
    inbox = Inbox(engine)
    handler = InboxWorker(inbox, CHANNEL, adapter.feed, sender_of)
    background = [asyncio.create_task(_forget_old_updates(inbox))]
    try:
        await adapter.start(bridge.handle)
        if adapter.api.username:  # from getMe: certificates say where to /verify them
            service.bot_handle = f"@{adapter.api.username}"
        await bridge.register_commands()
        # What start-up built (lessons, catalogs, the frameworks' models) lives as long as the
        # process: keep it out of the garbage collector's full passes, which otherwise walk it
        # every few hundred updates and pause every learner for a tenth of a second.
        gc.collect()
        gc.freeze()
        # Updates a crash left pending, and replies it left unsent, go out first.
        background.append(asyncio.create_task(handler.run()))
        background.append(asyncio.create_task(relay_forever(service)))
        if worker:
            deliverer = TelegramDeliverer(adapter.api, key_from_token(settings.bot_token))
            background.append(
                asyncio.create_task(
                    run_background(settings, engine, service.library, service.texts, deliverer)
                )
            )
        if settings.webhook_url:
            await bridge.call(
                lambda: adapter.api.set_webhook(settings.webhook_url, settings.webhook_secret)
            )
            await _serve_webhook(settings, inbox, handler.submit, engine)
        else:
            await bridge.call(adapter.api.delete_webhook)  # Telegram allows one or the other
            log.info("polling %s as @%s", settings.telegram_api_url, adapter.api.username)
            await Poller(settings.telegram_api_url, settings.bot_token, inbox, handler.submit).run()
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        with contextlib.suppress(Exception):  # a clean stop records what it delivered
            await service.replies.drain()
        await adapter.close()
        await report_engine.dispose()
        await engine.dispose()


async def _serve_webhook(
    settings: Settings,
    inbox: Inbox,
    stored: Callable[[list[tuple[str, dict[str, Any]]]], None],
    engine: AsyncEngine,
) -> None:
    async def store(update: dict[str, Any]) -> None:
        batch = [(update_key(update["update_id"]), update)]
        await inbox.receive(CHANNEL, batch, datetime.now(UTC))
        stored(batch)

    async def healthy() -> Health:
        # A committed write within a second, not a SELECT: see bot/store/health.py.
        return await check_database(engine)

    path = urlsplit(settings.webhook_url).path or "/"
    runner = web.AppRunner(webhook_app(path, settings.webhook_secret, store, healthy))
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", settings.port).start()
    log.info("webhook listening on port %s at %s", settings.port, path)
    try:
        await asyncio.Event().wait()  # until cancelled
    finally:
        await runner.cleanup()


async def work(settings: Settings) -> None:
    """`lessonbot worker`: only the background loops, no Telegram updates."""
    engine = await open_database(settings)
    service = build_service(settings, engine)
    await Roles(engine).bootstrap(settings.admins, datetime.now(UTC))
    try:
        async with open_deliverer(settings) as deliverer:
            await run_background(settings, engine, service.library, service.texts, deliverer)
    finally:
        await engine.dispose()


async def run_background(
    settings: Settings,
    engine: AsyncEngine,
    library: Library,
    texts: Texts,
    deliverer: TelegramDeliverer,
) -> None:
    """The worker's loops: due broadcasts, reminders and survey invitations, while we run."""
    followups = FollowUps(engine, library, texts, deliverer, Policy.from_settings(settings))
    await asyncio.gather(
        run_broadcasts(settings, engine, library, deliverer), run_followups(followups)
    )


async def run_broadcasts(
    settings: Settings, engine: AsyncEngine, library: Library, deliverer: TelegramDeliverer
) -> None:
    """Send whatever broadcast rows are due, for as long as we run."""
    sender = configured_sender(settings, Outbox(engine), deliverer, library)
    while True:
        try:
            await sender.run(until_done=False)
        except Exception:
            log.exception("broadcast sender failed; restarting in 5 s")
            await asyncio.sleep(5)


async def _forget_old_updates(inbox: Inbox) -> None:
    """Telegram keeps undelivered updates for 24 hours; older handled ones are dead weight."""
    while True:
        with contextlib.suppress(Exception):
            await inbox.forget_before(datetime.now(UTC) - timedelta(days=2))
        await asyncio.sleep(3600)
