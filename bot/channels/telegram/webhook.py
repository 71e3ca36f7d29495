"""Webhook mode: an aiohttp server that accepts Telegram's POSTs only with the right secret."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.channels.server import Refusals, base_app
from bot.store.health import Health

__all__ = ["SECRET_HEADER", "Refusals", "add_webhook", "webhook_app"]

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def add_webhook(
    app: web.Application, path: str, secret: str, store: Callable[[dict[str, Any]], Awaitable[None]]
) -> None:
    """Telegram's webhook route on the shared server."""
    expected = secret.encode()
    refusals = Refusals(log)

    async def receive(request: web.Request) -> web.Response:
        # aiohttp decodes header bytes as UTF-8 with "surrogateescape": encoding back the same
        # way gives the bytes as sent, so any header (even invalid UTF-8) compares, never raises.
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected):
            refusals.refuse(request.remote)
            return web.Response(status=401, text="wrong or missing secret token")
        try:
            # The bytes, not request.json(): that decodes by the Content-Type's charset, and an
            # unknown one raised LookupError. Telegram sends UTF-8; json.loads takes the bytes.
            # Nesting deeper than the interpreter's recursion limit raises RecursionError.
            update = json.loads(await request.read())
        except (ValueError, RecursionError):
            return web.Response(status=400, text="body is not JSON")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.Response(status=400, text="not a Telegram update")
        try:
            # Answer once the update is stored, not handled: if this process dies first,
            # Telegram sends it again; after, the inbox has it. A learner's slow reply (a 429)
            # never holds Telegram's request.
            await store(update)
        except Exception:
            log.exception("could not store update %s", update.get("update_id"))
            return web.Response(status=503, text="could not store the update; send it again")
        return web.Response(text="ok")

    async def log_last_refusals(_app: web.Application) -> None:
        refusals.flush()

    app.router.add_post(path, receive)
    app.on_cleanup.append(log_last_refusals)


def webhook_app(
    path: str,
    secret: str,
    store: Callable[[dict[str, Any]], Awaitable[None]],
    healthy: Callable[[], Awaitable[Health]],
) -> web.Application:
    """A server with Telegram's webhook alone (and /healthz)."""
    app = base_app(healthy)
    add_webhook(app, path, secret, store)
    return app
