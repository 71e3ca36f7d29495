"""What every webhook channel does in `lessonbot run`, written once.

A webhook channel's runner module (bot/channels/<name>/runner.py) says what is its own: the
variables it needs, how to make its sender, its channel's handler and its webhook route. This
checks those variables with one kind of message, and serves the channel: the route stores each
signed update in the inbox before the platform gets its 200, and the inbox worker hands them,
one learner's in order, to the channel's handler.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web

from bot.channels.delivery import Deliverer
from bot.channels.inbox import Feed, InboxWorker, SenderOf
from bot.config import Settings
from bot.errors import ConfigError
from bot.store.inbox import Inbox

log = logging.getLogger(__name__)

# Stores a webhook's updates, (inbox key, update) each, before the platform is answered.
Store = Callable[[list[tuple[str, dict[str, Any]]]], Awaitable[None]]
# Adds the channel's webhook route to the server, storing what it receives with `Store`.
Routes = Callable[[web.Application, Store], None]


class Sender(Deliverer, Protocol):
    """A webhook channel's deliverer, closed when the server stops."""

    async def close(self) -> None: ...


def check_required(settings: Settings, app: str, token: str, required: dict[str, str]) -> None:
    """With the channel's `token` set, every variable of `required` (name: where to find it)
    must be too: else a ConfigError naming each one missing and where to find it."""
    missing = [name for name in required if not getattr(settings, name.lower())]
    if missing:
        raise ConfigError(
            f"{token} is set, so {app} is on, but "
            + "; ".join(f"{name} is not set ({required[name]})" for name in missing)
        )


class WebhookService:
    """One webhook channel as `lessonbot run` serves it."""

    def __init__(
        self,
        channel: str,
        deliverer: Sender,
        handle: Feed,
        sender_of: SenderOf,
        inbox: Inbox,
        routes: Routes,
        *,
        path: str,
        port: int,
    ) -> None:
        self.channel = channel
        self.deliverer = deliverer
        self.inbox = inbox
        self.worker = InboxWorker(inbox, channel, handle, sender_of)
        self._routes = routes
        self._where = f"{path} on port {port}"

    def start(self, app: web.Application | None) -> list[Coroutine[Any, Any, None]]:
        """Add the webhook route; the loops to run while we serve."""
        assert app is not None, f"{self.channel} needs the web server"

        async def store(found: list[tuple[str, dict[str, Any]]]) -> None:
            await self.inbox.receive(self.channel, found, datetime.now(UTC))
            self.worker.submit(found)

        self._routes(app, store)
        log.info("%s webhook at %s", self.channel, self._where)
        return [self.worker.run()]

    async def close(self) -> None:
        await self.deliverer.close()
