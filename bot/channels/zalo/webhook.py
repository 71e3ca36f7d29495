"""`/zalo` on the shared server: Zalo's signed webhook events.

Every POST must carry `X-ZEvent-Signature: mac=<sha256 hex of app_id + raw body + timestamp +
OA secret key>`, where the timestamp is the body's own `timestamp` field and the app id is ours
(checked 2026-12-03 against chatwoot's Zalo integration, which verifies it the same way).
Without the header, or with a wrong one, the call gets 401 and nothing of it is kept. The body
is parsed only to find the timestamp the signature covers. A signed event is stored in the
inbox before Zalo gets its 200: if we die first Zalo sends it again, and the inbox keys store
it once; if the store fails we answer 503, so Zalo redelivers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.channels.server import Refusals
from bot.channels.zalo.incoming import updates

log = logging.getLogger(__name__)
PATH = "/zalo"
SIGNATURE_HEADER = "X-ZEvent-Signature"

Store = Callable[[list[tuple[str, dict[str, Any]]]], Awaitable[None]]


def signature(app_id: str, body: bytes, timestamp: str, oa_secret: str) -> str:
    mac = hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret.encode())
    return "mac=" + mac.hexdigest()


def signed(app_id: str, oa_secret: str, body: bytes, given: str) -> Any | None:
    """The event in `body` if `given` is its signature, else None."""
    if not given or not oa_secret:
        return None
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        return None
    timestamp = event.get("timestamp") if isinstance(event, dict) else None
    if not isinstance(timestamp, str | int):
        return None
    expected = signature(app_id, body, str(timestamp), oa_secret)
    # Bytes: compare_digest refuses str with non-ASCII characters, and a forger may send any.
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode()):
        return None
    return event


def add_webhook(
    app: web.Application, *, app_id: str, oa_secret: str, store: Store, path: str = PATH
) -> None:
    refusals = Refusals(log, what="signature")

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        event = signed(app_id, oa_secret, body, request.headers.get(SIGNATURE_HEADER, ""))
        if event is None:
            refusals.refuse(request.remote)
            return web.Response(status=401, text=f"missing or wrong {SIGNATURE_HEADER}")
        found = updates(event, app_id)
        if found:
            try:
                await store(found)
            except Exception:
                log.exception("could not store a Zalo event")
                return web.Response(status=503, text="could not store the event; send it again")
        return web.Response(text="ok")

    async def log_last_refusals(_app: web.Application) -> None:
        refusals.flush()

    app.router.add_post(path, receive)
    app.on_cleanup.append(log_last_refusals)
