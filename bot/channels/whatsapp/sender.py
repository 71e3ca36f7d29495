"""WhatsApp as a windowed platform: free-form inside the 24 h window, templates outside it.

`bot.channels.window.WindowedSender` keeps the window; this says what WhatsApp does on each
side of it:
- inside, a message is rendered (bot/channels/whatsapp/render.py) and sent, media first by its
  uploaded id;
- outside, only an approved template may go, and only for a message the bot sends on its own
  (`Proactive`: a reminder, the survey invitation, a broadcast) that the registry has a template
  for in the learner's language; and only while the number's tier of users per 24 h lasts.
  Anything else is not attempted: NotAllowed, with the reason.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.channels.capabilities import WHATSAPP, Capabilities
from bot.channels.delivery import Delivered, NotAllowed, OverQuota, Proactive
from bot.channels.media import uploaded_id
from bot.channels.signing import sign
from bot.channels.templates import Templates
from bot.channels.whatsapp.graph import Graph
from bot.channels.whatsapp.render import render
from bot.channels.window import WindowedSender, one_by_one
from bot.engine import Say
from bot.store import LearnerStore
from bot.store.windows import Windows

CHANNEL = "whatsapp"
UNLIMITED = 0
# Meta keeps an uploaded file 30 days: an id is remembered for 14 (bot/channels/media.py).
MEDIA_PERIOD = timedelta(days=14)


@dataclass
class WhatsAppPlatform:
    graph: Graph
    store: LearnerStore
    templates: Templates
    key: bytes
    tier: int = UNLIMITED  # distinct users per 24 h that templates may reach; 0: no limit
    capabilities: Capabilities = WHATSAPP
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __post_init__(self) -> None:
        self.windows = Windows(self.store.engine, CHANNEL)

    async def free(self, address: str, messages: Sequence[Say]) -> Delivered:
        return await one_by_one(messages, lambda message: self._send(address, message))

    async def _send(self, address: str, message: Say) -> Delivered:
        media_id: str | None = None
        if message.media is not None:
            media_id = await self._send_media(address, message)
        sent = ""
        for part in render(message, lambda token: sign(self.key, address, token)):
            sent = await self.graph.send(address, part)
        return Delivered(sent, media_id)

    async def _send_media(self, address: str, message: Say) -> str:
        media = message.media
        assert media is not None
        kind = "image" if media.kind == "photo" else "document"
        media_id = await uploaded_id(
            self.store, CHANNEL, media, self.graph.upload, now=self.clock(), period=MEDIA_PERIOD
        )
        body = {"id": media_id}
        if kind == "document":  # the name the learner's phone saves it under
            body["filename"] = Path(media.path).name
        await self.graph.send(address, {"type": kind, kind: body})
        return media_id

    async def outside(
        self,
        address: str,
        messages: Sequence[Say],
        proactive: Proactive | None,
        locale: str,
        now: datetime,
    ) -> Delivered:
        """One template carries what the bot meant to say; the messages themselves can't go."""
        if proactive is None:
            raise NotAllowed("outside the 24 h window, and only a template may go out")
        template = self.templates.find(proactive.purpose, locale)
        if template is None:
            raise NotAllowed(
                f"outside the 24 h window, no template for `{proactive.purpose}` in `{locale}`"
            )
        if self.tier:
            use = await self.windows.tier_use(address, now)
            if not use.includes and use.users >= self.tier:
                until = use.frees_at or now + timedelta(hours=24)
                raise OverQuota(
                    f"the number's messaging tier of {self.tier} users per 24 h is used up",
                    until,
                )
        parameters = [{"type": "text", "text": value} for value in template.fill(proactive.values)]
        body = {
            "name": template.name,
            "language": {"code": template.language},
            "components": [{"type": "body", "parameters": parameters}] if parameters else [],
        }
        sent = await self.graph.send(address, {"type": "template", "template": body})
        await self.windows.record_template(
            address, proactive.purpose, template.name, template.category, now
        )
        return Delivered(sent)

    async def picture(self, address: str, photo: Path, photo_id: str | None) -> str:
        if photo_id is None:
            data = photo.read_bytes()
            mime = mimetypes.guess_type(photo.name)[0] or "image/jpeg"
            photo_id = await self.graph.upload(photo.name, data, mime)
        await self.graph.send(address, {"type": "image", "image": {"id": photo_id}})
        return photo_id

    async def close(self) -> None:
        await self.graph.close()


class WhatsAppSender(WindowedSender):
    """The windowed sender on WhatsApp, with its platform's Graph client at hand."""

    platform: WhatsAppPlatform

    @property
    def graph(self) -> Graph:
        return self.platform.graph
