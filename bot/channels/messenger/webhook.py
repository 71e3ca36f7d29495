"""`/messenger` on the shared server: Meta's handshake and signature check, Messenger's body.

The handshake and the `X-Hub-Signature-256` check are Meta's, shared with WhatsApp
(bot/channels/meta_webhook.py, checked against developers.facebook.com/docs/messenger-platform/
webhooks on 2026-12-03); `incoming.updates` cuts a signed notification into its events.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.channels.messenger.incoming import updates
from bot.channels.meta_webhook import Store, add_meta_webhook

log = logging.getLogger(__name__)
PATH = "/messenger"


def add_webhook(
    app: web.Application, *, verify_token: str, app_secret: str, store: Store, path: str = PATH
) -> None:
    add_meta_webhook(
        app,
        path=path,
        verify_token=verify_token,
        app_secret=app_secret,
        cut=updates,
        store=store,
        log=log,
    )
