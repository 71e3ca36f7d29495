"""`lessonbot run` and `lessonbot worker`: every configured channel, in one process.

Telegram is on when BOT_TOKEN is set, WhatsApp, LINE, Messenger and Zalo when their tokens are
(bot/channels/registry.py). They share the database, the engine, the inbox and the reply relay;
webhook channels are routes on one aiohttp server on PORT, beside `/healthz`. The background
loops (broadcasts, reminders, the survey) run once per channel, each through that channel's own
deliverer and within its rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_service, open_database
from bot.broadcast.outbox import Outbox
from bot.broadcast.sender import configured_sender
from bot.channels.delivery import Deliverer
from bot.channels.registry import runner_of, webhook_channels
from bot.channels.server import base_app, serve_app
from bot.config import Settings
from bot.content import Library
from bot.engine import Texts
from bot.errors import ConfigError
from bot.journey.followups import FollowUps, Policy
from bot.journey.followups import run_forever as run_followups
from bot.journey.trial import Trial
from bot.service import LessonService, relay_forever
from bot.store.admins import Roles
from bot.store.health import Health, check_database
from bot.store.inbox import Inbox

log = logging.getLogger(__name__)

NO_CHANNEL = (
    "no channel is configured: set BOT_TOKEN (a Telegram token from @BotFather), or "
    "WHATSAPP_TOKEN, LINE_CHANNEL_ACCESS_TOKEN, MESSENGER_PAGE_TOKEN or ZALO_OA_ACCESS_TOKEN "
    "with that channel's other variables (see the README's table of channels), in the "
    "environment or a .env file. "
    "To try the lessons without a messaging app, run `lessonbot chat`."
)


class Channel(Protocol):
    @property
    def deliverer(self) -> Deliverer: ...

    def start(self, app: web.Application | None) -> list[Coroutine[Any, Any, None]]: ...

    async def close(self) -> None: ...


def check_settings(settings: Settings) -> None:
    """Refuse to start without a channel, or with one half configured, saying what to set."""
    from bot.channels.telegram.runner import check_settings as check_telegram

    if not settings.bot_token and not webhook_channels(settings):
        raise ConfigError(NO_CHANNEL)
    if settings.bot_token:
        check_telegram(settings)
    for name in webhook_channels(settings):
        runner_of(name).check_settings(settings)


def _needs_server(settings: Settings) -> bool:
    return bool(settings.webhook_url) or bool(webhook_channels(settings))


async def _open_channels(
    settings: Settings, service: LessonService, inbox: Inbox, stack: AsyncExitStack
) -> list[Channel]:
    """Each configured channel, its framework imported only if it is on."""
    channels: list[Channel] = []
    if settings.bot_token:
        from bot.channels.telegram.runner import TelegramService

        telegram = TelegramService(settings, service, inbox)
        stack.push_async_callback(telegram.close)
        await telegram.open()
        channels.append(telegram)
    for name in webhook_channels(settings):
        served: Channel = runner_of(name).Service(settings, service, inbox)
        stack.push_async_callback(served.close)
        channels.append(served)
    return channels


async def serve(settings: Settings, *, worker: bool = True) -> None:
    """Serve learners on every configured channel; with `worker`, also the background loops."""
    check_settings(settings)
    engine = await open_database(settings)
    service = build_service(settings, engine)
    await Roles(engine).bootstrap(settings.admins, datetime.now(UTC))
    inbox = Inbox(engine)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(engine.dispose)
        try:
            channels = await _open_channels(settings, service, inbox, stack)
            app = None
            if _needs_server(settings):

                async def healthy() -> Health:
                    # A committed write within a second, not a SELECT: see bot/store/health.py.
                    return await check_database(engine)

                app = base_app(healthy)
            loops: list[Coroutine[Any, Any, None]] = [relay_forever(service), _forget_old(inbox)]
            for channel in channels:
                loops += channel.start(app)
            if worker:
                loops += [
                    run_background(settings, engine, service.library, service.texts, c.deliverer)
                    for c in channels
                ]
            # What start-up built (lessons, catalogs, the frameworks' models) lives as long as
            # the process: keep it out of the garbage collector's full passes, which otherwise
            # walk it every few hundred updates and pause every learner for a tenth of a second.
            gc.collect()
            gc.freeze()
            # Updates a crash left pending, and replies it left unsent, go out first.
            if app is not None:
                loops.append(serve_app(app, settings.port))
                log.info("listening on port %s", settings.port)
            await run_together(loops)
        finally:
            with contextlib.suppress(Exception):  # a clean stop records what it delivered
                await service.replies.drain()


async def run_together(loops: list[Coroutine[Any, Any, None]]) -> None:
    """Run the loops until one fails, which stops them all with its error; one that ends
    normally (setting a webhook) is let go. However they stop, every loop has ended when this
    returns. (asyncio.gather, once cancelled, returns as soon as its first child is, and would
    leave a slower one, a broadcast finishing what is on the wire, running on an engine that is
    about to be disposed.)"""
    tasks = [asyncio.create_task(loop) for loop in loops]
    try:
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises the loop's error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@asynccontextmanager
async def open_deliverers(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[list[Deliverer]]:
    """Each configured channel's deliverer, for sending only (broadcasts from the CLI)."""
    check_settings(settings)
    deliverers: list[Deliverer] = []
    async with AsyncExitStack() as stack:
        if settings.bot_token:
            from bot.channels.telegram.runner import open_deliverer

            deliverers.append(await stack.enter_async_context(open_deliverer(settings)))
        for name in webhook_channels(settings):
            sender = runner_of(name).make_sender(settings, engine)
            stack.push_async_callback(sender.close)
            deliverers.append(sender)
        yield deliverers


async def work(settings: Settings) -> None:
    """`lessonbot worker`: only the background loops, no updates."""
    engine = await open_database(settings)
    service = build_service(settings, engine)
    await Roles(engine).bootstrap(settings.admins, datetime.now(UTC))
    try:
        async with open_deliverers(settings, engine) as deliverers:
            await run_together(
                [
                    run_background(settings, engine, service.library, service.texts, d)
                    for d in deliverers
                ]
            )
    finally:
        await engine.dispose()


async def run_background(
    settings: Settings, engine: AsyncEngine, library: Library, texts: Texts, deliverer: Deliverer
) -> None:
    """One channel's loops: its due broadcasts, reminders and survey invitations."""
    policy, trial = Policy.from_settings(settings), Trial.from_settings(settings)
    followups = FollowUps(engine, library, texts, deliverer, policy, trial=trial)
    await run_together(
        [run_broadcasts(settings, engine, library, deliverer), run_followups(followups)]
    )


async def run_broadcasts(
    settings: Settings, engine: AsyncEngine, library: Library, deliverer: Deliverer
) -> None:
    """Send whatever broadcast rows of this channel are due, for as long as we run."""
    sender = configured_sender(settings, Outbox(engine, deliverer.channel), deliverer, library)
    while True:
        try:
            await sender.run(until_done=False)
        except Exception:
            me = asyncio.current_task()
            if me is not None and me.cancelling():
                raise  # it failed while being stopped: stop, don't restart
            log.exception("%s broadcast sender failed; restarting in 5 s", deliverer.channel)
            await asyncio.sleep(5)


async def _forget_old(inbox: Inbox) -> None:
    """Platforms redeliver for a day at most (Telegram 24 h, Meta up to 7 days for webhooks
    that keep failing); handled updates older than a week are dead weight."""
    while True:
        with contextlib.suppress(Exception):
            await inbox.forget_before(datetime.now(UTC) - timedelta(days=7))
        await asyncio.sleep(3600)
