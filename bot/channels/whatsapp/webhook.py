"""`/whatsapp` on the shared server: Meta's subscription handshake, and signed notifications.

The handshake and the `X-Hub-Signature-256` check are Meta's, shared with Messenger
(bot/channels/meta_webhook.py); what is WhatsApp's own is how a notification is cut into its
messages and statuses (`incoming.updates`, for our phone number only).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from bot.channels.meta_webhook import SIGNATURE_HEADER, Store, add_meta_webhook, signature
from bot.channels.whatsapp.incoming import updates

log = logging.getLogger(__name__)
PATH = "/whatsapp"
__all__ = ["PATH", "SIGNATURE_HEADER", "Store", "add_webhook", "signature"]


def add_webhook(
    app: web.Application,
    *,
    verify_token: str,
    app_secret: str,
    phone_number_id: str,
    store: Store,
    path: str = PATH,
) -> None:
    def cut(notification: Any) -> list[tuple[str, dict[str, Any]]]:
        return updates(notification, phone_number_id)

    add_meta_webhook(
        app,
        path=path,
        verify_token=verify_token,
        app_secret=app_secret,
        cut=cut,
        store=store,
        log=log,
    )
