"""Messenger as a windowed channel's `Platform`: what `WindowedSender` drives.

Inside the standard 24-hour window every message goes out as a RESPONSE. Outside it nothing
is sent at all: recurring notifications ended on 2026-02-10, message tags are for narrow cases
(a human agent, a confirmed event) a lesson or a broadcast is not, and the paid Marketing
Messages API is open to some business locations only, not Laos or Myanmar
(developers.facebook.com/docs/messenger-platform/marketing-messages and .../policy/
policy-overview, checked 2026-12-03).
So reminders go out before the window closes, and a broadcast row to someone outside it is
skipped with the reason.

Lesson images, documents and recorded clips are uploaded once with the Attachment Upload API
and sent by their attachment id, remembered per file digest; Meta lets an id live 90 days, so
the digest includes a 30-day period and an id in use is never more than 60 days old.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.channels.capabilities import MESSENGER, Capabilities
from bot.channels.delivery import Delivered, NotAllowed, Proactive, Rejected
from bot.channels.media import uploaded_id
from bot.channels.messenger.graph import MessengerGraph
from bot.channels.messenger.incoming import CHANNEL
from bot.channels.messenger.render import render
from bot.channels.signing import sign
from bot.channels.window import one_by_one
from bot.engine import Say
from bot.engine.outputs import Media
from bot.store import LearnerStore

log = logging.getLogger(__name__)
MEDIA_PERIOD = timedelta(days=30)  # Meta keeps an attachment id 90 days
# A message's media kind -> Messenger's attachment type for it. A step's recorded clip is an
# `audio` attachment, which plays in the chat; Messenger takes 10 such sends a second per
# Page, against 300 for text (developers.facebook.com/docs/messenger-platform/overview/
# rate-limiting, checked 2026-12-03): a reply at a learner's pace is far below that, and a
# 613 beyond it is waited out like any rate limit.
KINDS = {"photo": "image", "document": "file", "audio": "audio"}
OUTSIDE = (
    "outside Messenger's 24 h window nothing may be sent: recurring notifications ended on "
    "2026-02-10, and the Marketing Messages API is not open in every country (not LA or MM)"
)


@dataclass
class MessengerPlatform:
    graph: MessengerGraph
    store: LearnerStore
    key: bytes  # signs quick-reply payloads, as WindowedSender.key
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    capabilities: Capabilities = MESSENGER

    async def free(self, address: str, messages: Sequence[Say]) -> Delivered:
        async def send_one(message: Say) -> Delivered:
            return await self._say(address, message)

        return await one_by_one(messages, send_one)

    async def _say(self, address: str, message: Say) -> Delivered:
        sent: str = ""
        media_id: str | None = None
        if message.media is not None and message.media.kind == "audio":
            try:
                media_id = await self._media_id(message.media)
                sent = await self._attachment(address, message.media.kind, media_id)
            except Rejected as exc:
                # A clip is an extra beside the text: refused, the text still goes.
                log.warning("a clip for %s was refused, the text goes alone: %s", address, exc)
                media_id = None
        elif message.media is not None:
            media_id = await self._media_id(message.media)
            sent = await self._attachment(address, message.media.kind, media_id)
        for part in render(message, lambda token: sign(self.key, address, token)):
            sent = await self.graph.send(address, part)
        return Delivered(sent, media_id)

    async def outside(
        self,
        address: str,
        messages: Sequence[Say],
        proactive: Proactive | None,
        locale: str,
        now: datetime,
    ) -> Delivered:
        raise NotAllowed(OUTSIDE)

    async def picture(self, address: str, photo: Path, photo_id: str | None) -> str:
        if photo_id is None:
            mime = mimetypes.guess_type(photo.name)[0] or "image/jpeg"
            photo_id = await self.graph.upload("image", photo.name, photo.read_bytes(), mime)
        await self._attachment(address, "photo", photo_id)
        return photo_id

    async def close(self) -> None:
        await self.graph.close()

    async def _attachment(self, address: str, kind: str, attachment_id: str) -> str:
        payload = {"attachment_id": attachment_id}
        message = {"attachment": {"type": KINDS[kind], "payload": payload}}
        return await self.graph.send(address, message)

    async def _media_id(self, media: Media) -> str:
        kind = KINDS[media.kind]

        async def upload(name: str, data: bytes, mime: str) -> str:
            return await self.graph.upload(kind, name, data, mime)

        return await uploaded_id(
            self.store, CHANNEL, media, upload, now=self.clock(), period=MEDIA_PERIOD
        )
