"""WhatsApp as a windowed platform: free-form inside the 24 h window, templates outside it.

`bot.channels.window.WindowedSender` keeps the window; this says what WhatsApp does on each
side of it:
- inside, a message is rendered (bot/channels/whatsapp/render.py) and sent, media first by its
  uploaded id (a step's recorded clip as a voice message, developers.facebook.com/docs/
  whatsapp/cloud-api/messages/audio-messages, checked 2026-12-03);
- outside, only an approved template may go, and only for a message the bot sends on its own
  (`Proactive`: a reminder, the survey invitation, a broadcast) that the registry has a template
  for in the learner's language; and only while the number's tier of users per 24 h lasts.
  Anything else is not attempted: NotAllowed, with the reason.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.channels.capabilities import WHATSAPP, Capabilities
from bot.channels.delivery import Delivered, NotAllowed, OverQuota, Proactive, Rejected
from bot.channels.media import is_voice, uploaded_id
from bot.channels.signing import sign
from bot.channels.templates import Templates
from bot.channels.whatsapp.graph import Graph
from bot.channels.whatsapp.render import render
from bot.channels.window import WindowedSender, one_by_one
from bot.engine import Say
from bot.engine.outputs import Media
from bot.store import LearnerStore
from bot.store.windows import Windows

log = logging.getLogger(__name__)
CHANNEL = "whatsapp"
UNLIMITED = 0
# A message's media kind -> the Cloud API's message type for it
KINDS = {"photo": "image", "document": "document", "audio": "audio"}
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
        sent: str = ""
        media_id: str | None = None
        if message.media is not None and message.media.kind == "audio":
            try:
                sent, media_id = await self._send_media(address, message.media)
            except Rejected as exc:
                # A clip is an extra beside the text: refused (a file WhatsApp can't play),
                # the text still goes.
                log.warning("a clip for %s was refused, the text goes alone: %s", address, exc)
        elif message.media is not None:
            sent, media_id = await self._send_media(address, message.media)
        for part in render(message, lambda token: sign(self.key, address, token)):
            sent = await self.graph.send(address, part)
        return Delivered(sent, media_id)

    async def _send_media(self, address: str, media: Media) -> tuple[str, str]:
        """Send `media` by its uploaded id: the message's wamid, and the media id."""
        kind = KINDS[media.kind]
        media_id = await uploaded_id(
            self.store, CHANNEL, media, self.graph.upload, now=self.clock(), period=MEDIA_PERIOD
        )
        body: dict[str, object] = {"id": media_id}
        if kind == "document":  # the name the learner's phone saves it under
            body["filename"] = Path(media.path).name
        if is_voice(media):
            # An Ogg Opus clip as a voice message: it downloads by itself and plays with one
            # tap, where a basic audio message shows a download button first. Audio messages
            # carry no caption: the text follows as its own message.
            body["voice"] = True
        return await self.graph.send(address, {"type": kind, kind: body}), media_id

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
