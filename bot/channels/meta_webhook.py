"""A Meta webhook route (WhatsApp, Messenger): the subscription handshake and signed posts.

Both of Meta's messaging platforms set a webhook up the same way
(developers.facebook.com/docs/graph-api/webhooks/getting-started, checked 2026-12-03):
- `GET` with `hub.mode=subscribe` and our `hub.verify_token` is answered with `hub.challenge`
  (anything else 403);
- `POST` carries `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with the app
  secret>`; without a valid one it gets 401 and nothing is read. A signed body is cut into its
  updates by the channel, which are stored in the inbox before Meta gets its 200: if we die
  first, Meta sends it again, and the inbox's keys store a redelivery once. A storage failure
  answers 503, so Meta redelivers.
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

SIGNATURE_HEADER = "X-Hub-Signature-256"

Found = list[tuple[str, dict[str, Any]]]  # (inbox key, update)
Store = Callable[[Found], Awaitable[None]]
Cut = Callable[[Any], Found]


def signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def add_meta_webhook(
    app: web.Application,
    *,
    path: str,
    verify_token: str,
    app_secret: str,
    cut: Cut,
    store: Store,
    log: logging.Logger,
) -> None:
    """Serve Meta's webhook for one channel at `path`: `cut` turns a signed body into its
    updates, `store` keeps them."""
    refusals = Refusals(log, what="signature")

    async def handshake(request: web.Request) -> web.Response:
        query = request.query
        given = query.get("hub.verify_token", "").encode("utf-8", "surrogateescape")
        if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            given, verify_token.encode()
        ):
            return web.Response(status=403, text="wrong verify token")
        return web.Response(text=query.get("hub.challenge", ""))

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        given = request.headers.get(SIGNATURE_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, signature(app_secret, body).encode()):
            refusals.refuse(request.remote)
            return web.Response(status=401, text=f"missing or wrong {SIGNATURE_HEADER}")
        try:
            notification = json.loads(body)
        except (ValueError, RecursionError):
            return web.Response(status=400, text="body is not JSON")
        found = cut(notification)
        if found:
            try:
                await store(found)
            except Exception:
                log.exception("could not store %d updates from %s", len(found), path)
                return web.Response(status=503, text="could not store the update; send it again")
        return web.Response(text="ok")

    async def log_last_refusals(_app: web.Application) -> None:
        refusals.flush()

    app.router.add_get(path, handshake)
    app.router.add_post(path, receive)
    app.on_cleanup.append(log_last_refusals)
