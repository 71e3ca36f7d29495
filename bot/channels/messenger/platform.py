"""Messenger as a windowed channel's `Platform`: what `WindowedSender` drives.

Inside the standard 24-hour window every message goes out as a RESPONSE. Outside it nothing
is sent at all: recurring notifications ended on 2026-02-10, message tags are for narrow cases
(a human agent, a confirmed event) a lesson or a broadcast is not, and the paid Marketing
Messages API is open to some business locations only, not Laos or Myanmar
(developers.facebook.com/docs/messenger-platform/marketing-messages and .../policy/
policy-overview, checked 2026-12-03).
So reminders go out before the window closes, and a broadcast row to someone outside it is
skipped with the reason.

Lesson images and documents are uploaded once with the Attachment Upload API and sent by
their attachment id, remembered per file digest; Meta lets an id live 90 days, so the digest
includes a 30-day period and an id in use is never more than 60 days old.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.channels.capabilities import MESSENGER, Capabilities
from bot.channels.delivery import Delivered, NotAllowed, Proactive
from bot.channels.media import uploaded_id
from bot.channels.messenger.graph import MessengerGraph
from bot.channels.messenger.incoming import CHANNEL
from bot.channels.messenger.render import render
from bot.channels.signing import sign
from bot.channels.window import one_by_one
from bot.engine import Say
from bot.engine.outputs import Media
from bot.store import LearnerStore

MEDIA_PERIOD = timedelta(days=30)  # Meta keeps an attachment id 90 days
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
        sent, media_id = "", None
        if message.media is not None:
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
        kind = "image" if kind == "photo" else "file"
        return await self.graph.send(address, {"attachment": {"type": kind, "payload": payload}})

    async def _media_id(self, media: Media) -> str:
        kind = "image" if media.kind == "photo" else "file"

        async def upload(name: str, data: bytes, mime: str) -> str:
            return await self.graph.upload(kind, name, data, mime)

        return await uploaded_id(
            self.store, CHANNEL, media, upload, now=self.clock(), period=MEDIA_PERIOD
        )
