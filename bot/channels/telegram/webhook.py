"""Webhook mode: an aiohttp server that accepts Telegram's POSTs only with the right secret."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.store.health import Health

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_app(
    path: str,
    secret: str,
    store: Callable[[dict[str, Any]], Awaitable[None]],
    healthy: Callable[[], Awaitable[Health]],
) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("webhook call without the right secret from %s", request.remote)
            return web.Response(status=401, text="wrong or missing secret token")
        try:
            update = await request.json()
        except ValueError:
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

    async def health(_request: web.Request) -> web.Response:
        # {"database": "ok"}, or e.g. {"database": "unwritable", "reason": "database or disk
        # is full"}; "busy" (another writer has the lock) is still 200.
        report = await healthy()
        return web.json_response(report.as_json(), status=report.http_status)

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post(path, receive)
    app.router.add_get("/healthz", health)
    return app
