"""The one aiohttp server every webhook channel is a route on, with `/healthz` beside them.

`lessonbot run` serves Telegram's webhook (when WEBHOOK_URL is set) and the webhook of every
other configured channel (`/whatsapp`, ...) on PORT, from one process and one database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.store.health import Health

REFUSALS_LOGGED_EVERY = 60.0  # seconds: wrong guesses cannot flood the log
MAX_BODY = 1024 * 1024  # an update is a few kilobytes; a megabyte is already suspicious


class Refusals:
    """Calls refused for a wrong or missing secret, logged as at most one WARNING per `every`
    seconds: the first at once, the rest counted and summed up when the interval has passed
    (or when the server stops). Every call is still answered 401."""

    def __init__(
        self, log: logging.Logger, every: float = REFUSALS_LOGGED_EVERY, what: str = "secret"
    ) -> None:
        self.log = log
        self.what = what
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
            self.log.warning("webhook call without the right %s from %s", self.what, self._latest)
        else:
            self.log.warning(
                "%d webhook calls without the right %s since the last such warning, "
                "the latest from %s",
                self._unlogged,
                self.what,
                self._latest,
            )
        self._unlogged = 0
        self._logged_at = asyncio.get_running_loop().time()


def base_app(healthy: Callable[[], Awaitable[Health]]) -> web.Application:
    """The server, with only `/healthz`: channels add their webhook routes to it."""

    async def health(_request: web.Request) -> web.Response:
        # {"database": "ok"}, or e.g. {"database": "unwritable", "reason": "database or disk
        # is full"}; "busy" (another writer has the lock) is still 200.
        report = await healthy()
        return web.json_response(report.as_json(), status=report.http_status)

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_get("/healthz", health)
    return app


async def serve_app(app: web.Application, port: int) -> None:
    """Serve `app` on `port` until cancelled."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    try:
        await asyncio.Event().wait()  # until cancelled
    finally:
        await runner.cleanup()
