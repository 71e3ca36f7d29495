"""A learner on Zalo, driven through the fake OA API against a real `lessonbot run`.

A tap presses an `oa.query.hide` button of the last message with buttons (Zalo then sends the
button's payload as the learner's text); where the bot showed the choices as numbered text
(more than 5, or labels over 20 characters) the learner types the number, as Zalo leaves them
nothing else to do.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

from bot.config import Settings
from tests.channel_drivers import ROOT, WebhookDriver, numbered, until, webhook_settings
from tests.fakezalo import FakeZalo, Sent
from tests.test_telegram_e2e import free_port

LAN = "5510185758261927916"  # a Zalo user id: digits, scoped to the OA's app


def zalo_settings(fake: FakeZalo, database_url: str, port: int, **extra: Any) -> Settings:
    return webhook_settings(
        database_url,
        port,
        **{
            "zalo_oa_access_token": fake.access_token,
            "zalo_refresh_token": fake.refresh_token,
            "zalo_app_id": fake.app_id,
            "zalo_oa_secret": fake.oa_secret,
            "zalo_app_secret": fake.app_secret,
            "zalo_api_url": fake.url,
            "zalo_oauth_url": fake.url,
            "zalo_proactive_monthly": fake.proactive_monthly,
        }
        | extra,  # a test may set the allowance (or the content) itself
    )


class ZaloDriver(WebhookDriver):
    channel = "zalo"
    path = "/zalo"
    fake: FakeZalo

    def sent(self) -> list[Sent]:
        return self.fake.messages_to(self.address)

    async def type(self, text: str, *, answered: bool = True) -> None:
        await self._after(lambda: self.fake.user_sends_text(self.address, text), answered=answered)

    async def tap(self, token: str, label: str) -> None:
        how = await until(lambda: self._choice(token, label), self.task)
        if how[0] == "payload":
            await self._after(lambda: self.fake.user_sends_text(self.address, how[1]))
        else:  # shown as numbered text: the learner types the number of the line
            await self.type(how[1])

    def _choice(self, token: str, label: str) -> tuple[str, str] | None:
        last = self.sent()[-1]
        for button in last.buttons():
            if button["payload"].rpartition("~")[0] == token:
                return "payload", button["payload"]
        return numbered(last.text, label)

    def texts(self) -> list[str]:
        return [s.text for s in self.sent()]

    def pictures(self) -> int:
        return sum(s.image is not None for s in self.sent())

    def uploads(self) -> int:
        return len(self.fake.uploads)

    def fail_sends(self, kind: Literal["rate", "server"], times: int) -> None:
        if kind == "rate":
            self.fake.fail_next(-32, times=times)
        else:
            self.fake.fail_next_raw(502, "<html><body>502 Bad Gateway</body></html>", times=times)

    def failed_sends(self) -> int:
        # An expired access token is not a failed send: the bot refreshes it and sends again.
        return sum(r.error.get("error") != -216 for r in self.fake.refused)

    def block(self) -> None:
        self.fake.block(self.address)

    def unblock(self) -> None:
        self.fake.unblock(self.address)

    async def forge(self, data: str) -> None:
        await self._after(lambda: self.fake.user_sends_text(self.address, data))

    async def tap_old(self, index: int, token: str) -> None:
        old = self.sent()[index]
        found = next(
            b["payload"] for b in old.buttons() if b["payload"].rpartition("~")[0] == token
        )
        await self._after(lambda: self.fake.user_sends_text(self.address, found))

    def twin(self) -> ZaloDriver:
        other = ZaloDriver(self.fake, self.settings, "3611371994410983884")
        other.task = self.task
        return other


@contextlib.asynccontextmanager
async def learner_on_zalo(
    database_url: str, lessons: Path = ROOT / "lessons", **fake_options: Any
) -> AsyncIterator[ZaloDriver]:
    """A running bot on Zalo and one learner talking to it."""
    async with FakeZalo(**fake_options) as fake:
        fake.names[LAN] = "Nguyễn Thị Lan"
        settings = zalo_settings(fake, database_url, free_port(), lessons_dir=str(lessons))
        driver = ZaloDriver(fake, settings, LAN)
        await driver.start_serving()
        try:
            yield driver
        finally:
            await driver.stop()
