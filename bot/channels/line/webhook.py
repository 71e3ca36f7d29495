"""`/line` on the shared server: LINE's signed webhook.

Every POST must carry `X-Line-Signature`, base64(HMAC-SHA256(channel secret, raw body)), checked
with the SDK's SignatureValidator (developers.line.biz/en/docs/messaging-api/
verify-webhook-signature/, checked 2026-12-03). Without a valid one the call gets 401 and
nothing is read. A signed body is cut into its events, which are stored in the inbox before
LINE gets its 200: if storing fails we answer 503, and LINE redelivers (when redelivery is on
in the console), while the inbox keys store a redelivered event once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from linebot.v3.webhook import SignatureValidator

from bot.channels.line.incoming import updates
from bot.channels.server import Refusals

log = logging.getLogger(__name__)
PATH = "/line"
SIGNATURE_HEADER = "X-Line-Signature"

Store = Callable[[list[tuple[str, dict[str, Any]]]], Awaitable[None]]


def signed(validator: Any, body: bytes, signature: str) -> bool:
    """Whether `signature` is LINE's for `body`; never raises on garbage."""
    if not signature:
        return False
    try:
        return bool(validator.validate(body.decode("utf-8"), signature))
    except (UnicodeError, ValueError):
        return False


def add_webhook(
    app: web.Application,
    *,
    channel_secret: str,
    store: Store,
    path: str = PATH,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    refusals = Refusals(log, what="X-Line-Signature")
    validator = SignatureValidator(channel_secret)

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        if not signed(validator, body, request.headers.get(SIGNATURE_HEADER, "")):
            refusals.refuse(request.remote)
            return web.Response(status=401, text="missing or wrong X-Line-Signature")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return web.Response(status=400, text="body is not JSON")
        found = updates(payload, clock())
        if found:
            try:
                await store(found)
            except Exception:
                log.exception("could not store %d LINE events", len(found))
                return web.Response(status=503, text="could not store the events; send them again")
        return web.Response(text="ok")

    async def log_last_refusals(_app: web.Application) -> None:
        refusals.flush()

    app.router.add_post(path, receive)
    app.on_cleanup.append(log_last_refusals)
