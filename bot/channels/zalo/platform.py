"""Zalo as a windowed `Platform`: consultation messages inside the window, proactive outside.

- Inside the window (48 h after the learner's message, and at most 8 messages in it) every
  message goes as a free consultation (`cs`) message.
- Outside it, or beyond the 8, a message goes as a proactive (`promotion`) message, which
  only a verified OA may send and which counts against its monthly allowance. The allowance
  (ZALO_PROACTIVE_MONTHLY) is counted here, per calendar month in Vietnam, from the proactive
  sends every process recorded in `template_sends`; once it is used up nothing more is
  attempted, and OverQuota says when it renews.
- Pictures are uploaded once and sent by the attachment id Zalo gave, remembered per file
  content (and per 14-day period, as Zalo keeps uploads for a limited time).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.channels.capabilities import ZALO, Capabilities
from bot.channels.delivery import Delivered, OverQuota, Proactive
from bot.channels.media import is_empty, uploaded_id
from bot.channels.signing import sign
from bot.channels.window import one_by_one
from bot.channels.zalo import render
from bot.channels.zalo.api import VIETNAM, ZaloApi, next_month
from bot.engine import Say
from bot.store import LearnerStore
from bot.store.windows import Windows

CHANNEL = "zalo"
PROACTIVE = "proactive"  # the "template" and "category" a proactive send is recorded under
MEDIA_PERIOD = timedelta(days=14)  # an attachment id remembered this long (bot/channels/media.py)


def month_start(now: datetime) -> datetime:
    """The start of `now`'s calendar month in Vietnam."""
    local = now.astimezone(VIETNAM)
    return datetime(local.year, local.month, 1, tzinfo=VIETNAM).astimezone(UTC)


@dataclass
class ZaloPlatform:
    api: ZaloApi
    store: LearnerStore
    key: bytes  # signs button payloads
    monthly: int  # proactive messages allowed per calendar month
    capabilities: Capabilities = ZALO
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    windows: Windows = field(init=False)

    def __post_init__(self) -> None:
        self.windows = Windows(self.store.engine, CHANNEL)

    # -- inside the window ---------------------------------------------------------------------

    async def free(self, address: str, messages: Sequence[Say]) -> Delivered:
        return await one_by_one(messages, lambda say: self._consult(address, say))

    async def _consult(self, address: str, message: Say) -> Delivered:
        attachment_id, sent = None, ""
        if message.media is not None:
            attachment_id = await self._media(message)
            sent = await self.api.send("cs", address, render.image(attachment_id))
            if not message.text.strip() and not message.buttons:
                return Delivered(sent, attachment_id)
        for part in render.render(message, lambda token: sign(self.key, address, token)):
            sent = await self.api.send("cs", address, part)
        return Delivered(sent, attachment_id)

    async def _media(self, message: Say) -> str:
        assert message.media is not None
        return await uploaded_id(
            self.store,
            CHANNEL,
            message.media,
            self.api.upload_image,
            now=self.clock(),
            period=MEDIA_PERIOD,
        )

    async def picture(self, address: str, photo: Path, photo_id: str | None) -> str:
        if photo_id is None:
            mime = mimetypes.guess_type(photo.name)[0] or "image/jpeg"
            photo_id = await self.api.upload_image(photo.name, photo.read_bytes(), mime)
        await self.api.send("cs", address, render.image(photo_id))
        return photo_id

    # -- outside it ----------------------------------------------------------------------------

    async def proactive_used(self, now: datetime) -> int:
        """Proactive messages sent this calendar month, by every process of ours (every Zalo
        row of `template_sends` is one: nothing else is counted on Zalo)."""
        return await self.windows.sent_since(month_start(now))

    async def outside(
        self,
        address: str,
        messages: Sequence[Say],
        proactive: Proactive | None,
        locale: str,
        now: datetime,
    ) -> Delivered:
        purpose = proactive.purpose if proactive is not None else "reply"

        async def send_one(message: Say) -> Delivered:
            if is_empty(message):
                return Delivered("")  # nothing to show (a clip Zalo can't send): no allowance
            if await self.proactive_used(now) >= self.monthly:
                raise OverQuota(
                    f"the OA's {self.monthly} proactive messages this month are used up "
                    "(ZALO_PROACTIVE_MONTHLY)",
                    next_month(now),
                )
            banner = await self._media(message) if message.media is not None else None
            body = render.promotion(message, lambda t: sign(self.key, address, t), banner)
            sent = await self.api.send("promotion", address, body)
            await self.windows.record_template(address, purpose, PROACTIVE, PROACTIVE, now)
            return Delivered(sent, banner)

        return await one_by_one(messages, send_one)

    async def close(self) -> None:
        await self.api.close()
