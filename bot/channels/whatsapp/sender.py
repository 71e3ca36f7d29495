"""Sending on WhatsApp, within the 24-hour customer-service window and the messaging tier.

Every message goes through `WhatsAppSender.deliver`, so the rule is kept in one place:
- inside the window (24 h since the learner last wrote, less a safety margin for clocks and
  the time an update waited in our inbox), anything goes out free-form;
- outside it, only an approved template may, and only for a message the bot sends on its own
  (`Proactive`: a reminder, the survey invitation, a broadcast) that the registry has a template
  for in the learner's language; and only while the number's tier of users per 24 h lasts;
- anything else is not attempted: NotAllowed, with the reason, for whoever sent it to record.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.channels.capabilities import WHATSAPP, Capabilities
from bot.channels.delivery import Delivered, NotAllowed, OverQuota, Proactive
from bot.channels.signing import sign
from bot.channels.templates import Templates
from bot.channels.whatsapp.graph import Graph, WindowClosed
from bot.channels.whatsapp.render import render
from bot.engine import Say
from bot.engine.outputs import Button
from bot.store import LearnerStore
from bot.store.windows import Windows

log = logging.getLogger(__name__)
CHANNEL = "whatsapp"
# The window as we count it is this much shorter than Meta's: our clock and Meta's differ, and
# `last_active_at` is when we handled the message, which can be later than when it was sent.
MARGIN = timedelta(minutes=10)
# Remembered in memory: whoever wrote lately, so a reply needs no database read to know the
# window is open. Bounded; the store answers for anyone not here.
RECENT_LIMIT = 100_000
UNLIMITED = 0
MEDIA_PERIOD = 14 * 24 * 3600  # seconds


@dataclass
class WhatsAppSender:
    graph: Graph
    store: LearnerStore
    templates: Templates
    key: bytes  # signs button ids, as on Telegram: a reply can't name another learner's button
    tier: int = UNLIMITED  # distinct users per 24 h that templates may reach; 0: no limit
    capabilities: Capabilities = WHATSAPP
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    channel: str = CHANNEL
    _heard: dict[str, datetime] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.windows = Windows(self.store.engine, CHANNEL)

    # -- the window ----------------------------------------------------------------------------

    def heard(self, address: str, at: datetime) -> None:
        """The learner wrote at `at`: their window is open until 24 h later."""
        if len(self._heard) >= RECENT_LIMIT:
            self._heard.clear()  # cheaper than an LRU, and the store still knows
        self._heard[address] = max(at, self._heard.get(address, at))

    def _open(self, at: datetime | None, now: datetime) -> bool:
        window = self.capabilities.window
        return window is None or (at is not None and now < at + window - MARGIN)

    # -- sending -------------------------------------------------------------------------------

    async def deliver(
        self, address: str, message: Say, proactive: Proactive | None = None
    ) -> Delivered:
        now = self.clock()
        if self._open(self._heard.get(address), now):
            return await self._free_form(address, message, proactive)
        last = await self.windows.last_heard(address)
        if last.at is not None and self._open(last.at, now):
            self._heard[address] = last.at
            return await self._free_form(address, message, proactive)
        return await self._template(address, last.locale, proactive, now)

    async def _free_form(
        self, address: str, message: Say, proactive: Proactive | None
    ) -> Delivered:
        try:
            return await self._send_free_form(address, message)
        except WindowClosed:
            # Meta's clock says the window closed before ours did: only a template may go now.
            self._heard.pop(address, None)
            last = await self.windows.last_heard(address)
            return await self._template(address, last.locale, proactive, self.clock())

    async def _send_free_form(self, address: str, message: Say) -> Delivered:
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
        if media.data is not None:  # made for this learner (a certificate): upload it
            mime = mimetypes.guess_type(media.path)[0] or "application/octet-stream"
            media_id = await self.graph.upload(Path(media.path).name, media.data, mime)
            body = {"id": media_id}
            if kind == "document":  # the name the learner's phone saves it under
                body["filename"] = Path(media.path).name
            await self.graph.send(address, {"type": kind, kind: body})
            return media_id
        data = Path(media.path).read_bytes()
        # Meta keeps an uploaded file 30 days: the id is remembered per 14-day period (part of
        # the digest it is stored under), so an id in use is never more than 28 days old.
        period = int(self.clock().timestamp()) // MEDIA_PERIOD
        digest = hashlib.sha256(data + f"\x00{period}".encode()).hexdigest()
        known = await self.store.media_id(CHANNEL, media.path, digest)
        if known is None:
            mime = mimetypes.guess_type(media.path)[0] or "image/jpeg"
            media_id = await self.graph.upload(Path(media.path).name, data, mime)
            await self.store.remember_media(CHANNEL, media.path, digest, media_id)
        else:
            media_id = known
        await self.graph.send(address, {"type": kind, kind: {"id": media_id}})
        return media_id

    async def _template(
        self, address: str, locale: str, proactive: Proactive | None, now: datetime
    ) -> Delivered:
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

    # -- as the broadcast sender and the journey loops call it -----------------------------------

    async def send(
        self,
        external_id: str,
        text: str,
        keyboard: list[list[tuple[str, str]]],
        photo: Path | None,
        photo_id: str | None = None,
        *,
        proactive: Proactive | None = None,
    ) -> Delivered:
        """`Deliverer.send`: a broadcast or a reminder, with its buttons (engine tokens; a
        link is written into the text, as WhatsApp has no link buttons in free-form replies)."""
        links = [f"{label}: {data}" for row in keyboard for label, data in row if _is_link(data)]
        buttons = tuple(
            tuple(Button(label, data) for label, data in row if not _is_link(data))
            for row in keyboard
        )
        body = "\n\n".join([text, *links]) if links else text
        message = Say(body, tuple(row for row in buttons if row))
        if photo is not None:
            return await self._with_photo(external_id, message, photo, photo_id, proactive)
        return await self.deliver(external_id, message, proactive)

    async def _with_photo(
        self,
        address: str,
        message: Say,
        photo: Path,
        photo_id: str | None,
        proactive: Proactive | None,
    ) -> Delivered:
        """A broadcast photo goes by the id its first upload returned, so it travels once."""
        now = self.clock()
        last = self._heard.get(address) or (await self.windows.last_heard(address)).at
        if not self._open(last, now):
            # A template carries the text alone; the photo needs the window.
            return await self.deliver(address, Say(message.text, message.buttons), proactive)
        if photo_id is None:
            data = photo.read_bytes()
            mime = mimetypes.guess_type(photo.name)[0] or "image/jpeg"
            photo_id = await self.graph.upload(photo.name, data, mime)
        await self.graph.send(address, {"type": "image", "image": {"id": photo_id}})
        sent = await self.deliver(address, message, proactive)
        return Delivered(sent.message_id, photo_id)

    async def reply(self, address: str, message: Say) -> None:
        """The service's `Send`: a reply to what the learner just wrote."""
        await self.deliver(address, message)


def _is_link(data: str) -> bool:
    return data.startswith(("https://", "http://"))
