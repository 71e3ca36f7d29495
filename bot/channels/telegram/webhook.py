"""Webhook mode: an aiohttp server that accepts Telegram's POSTs only with the right secret."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.store.health import Health

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
REFUSALS_LOGGED_EVERY = 60.0  # seconds: wrong guesses cannot flood the log


class Refusals:
    """Calls refused for a wrong or missing secret, logged as at most one WARNING per `every`
    seconds: the first at once, the rest counted and summed up when the interval has passed
    (or when the server stops). Every call is still answered 401."""

    def __init__(self, every: float = REFUSALS_LOGGED_EVERY) -> None:
        self.every = every
        self._unlogged = 0
        self._latest: str | None = None
        self._logged_at: float | None = None  # loop time of the last WARNING
        self._timer: asyncio.TimerHandle | None = None

    def refuse(self, remote: str | None) -> None:
        self._unlogged += 1
        self._latest = remote
        if self._timer is not None:  # a line is already due
            return
        loop = asyncio.get_running_loop()
        wait = 0.0 if self._logged_at is None else self._logged_at + self.every - loop.time()
        if wait <= 0:
            self.flush()
        else:
            self._timer = loop.call_later(wait, self.flush)

    def flush(self) -> None:
        """Log the calls refused since the last line, if any."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._unlogged:
            return
        if self._unlogged == 1:
            log.warning("webhook call without the right secret from %s", self._latest)
        else:
            log.warning(
                "%d webhook calls without the right secret since the last such warning, "
                "the latest from %s",
                self._unlogged,
                self._latest,
            )
        self._unlogged = 0
        self._logged_at = asyncio.get_running_loop().time()


def webhook_app(
    path: str,
    secret: str,
    store: Callable[[dict[str, Any]], Awaitable[None]],
    healthy: Callable[[], Awaitable[Health]],
) -> web.Application:
    expected = secret.encode()
    refusals = Refusals()

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

    async def health(_request: web.Request) -> web.Response:
        # {"database": "ok"}, or e.g. {"database": "unwritable", "reason": "database or disk
        # is full"}; "busy" (another writer has the lock) is still 200.
        report = await healthy()
        return web.json_response(report.as_json(), status=report.http_status)

    async def log_last_refusals(_app: web.Application) -> None:
        refusals.flush()

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post(path, receive)
    app.router.add_get("/healthz", health)
    app.on_cleanup.append(log_last_refusals)
    return app
