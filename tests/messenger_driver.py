"""A learner on Messenger, for the channel-neutral suite: `lessonbot run` against FakeMessenger.

A tap presses a quick reply of the last message (Messenger dismisses the older ones); where
the bot showed the choices as numbered text (more than 13, or a label over 20 characters) the
learner types the number, because that is all Messenger lets them do. An old or forged press
is a quick-reply message with that payload, as a client that kept an old message would send.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

from bot.config import Settings
from tests.channel_drivers import ROOT, Driver, WebhookDriver, numbered, until, webhook_settings
from tests.fakemessenger import FakeMessenger, Sent
from tests.test_telegram_e2e import free_port

MARIA, JOSE = "7234567890123456", "7234567890654321"  # PSIDs
VERIFY_TOKEN = "verify-me-please"


def messenger_settings(fake: FakeMessenger, database_url: str, port: int, **extra: Any) -> Settings:
    return webhook_settings(
        database_url,
        port,
        messenger_page_token=fake.page_token,
        messenger_app_secret=fake.app_secret,
        messenger_verify_token=VERIFY_TOKEN,
        messenger_api_url=fake.url,
        **extra,
    )


class MessengerDriver(WebhookDriver):
    channel = "messenger"
    path = "/messenger"
    fake: FakeMessenger

    def sent(self) -> list[Sent]:
        return self.fake.messages_to(self.address)

    async def type(self, text: str, *, answered: bool = True) -> None:
        await self._after(lambda: self.fake.user_sends_text(self.address, text), answered=answered)

    async def tap(self, token: str, label: str) -> None:
        how = await until(lambda: self._choice(token, label), self.task)
        if how[0] == "payload":
            await self._after(lambda: self.fake.user_taps(self.address, how[1]))
        else:  # shown as numbered text: the learner types the number of the line
            await self.type(how[1])

    def _choice(self, token: str, label: str) -> tuple[str, str] | None:
        last = self.sent()[-1]
        if last.quick_replies:
            return next(
                (
                    ("payload", str(r["payload"]))
                    for r in last.quick_replies
                    if str(r["payload"]).rpartition("~")[0] == token
                ),
                None,
            )
        return numbered(last.text, label)

    def uploads(self) -> int:
        return len(self.fake.uploads)

    def fail_sends(self, kind: Literal["rate", "server"], times: int) -> None:
        if kind == "rate":
            self.fake.fail_next(613, times=times)
        else:
            self.fake.fail_next_raw(502, "<html><body>502 Bad Gateway</body></html>", times=times)

    def failed_sends(self) -> int:
        return len(self.fake.rejected)

    def twin(self) -> MessengerDriver:
        other = MessengerDriver(self.fake, self.settings, JOSE)
        other.task = self.task
        return other

    def block(self) -> None:
        self.fake.block(self.address)

    def unblock(self) -> None:
        self.fake.unblock(self.address)

    async def forge(self, data: str) -> None:
        await self._after(lambda: self.fake.user_sends_payload(self.address, data))

    async def tap_old(self, index: int, token: str) -> None:
        old = self.sent()[index]
        reply = next(r for r in old.quick_replies if str(r["payload"]).rpartition("~")[0] == token)
        payload, title = str(reply["payload"]), str(reply["title"])
        await self._after(lambda: self.fake.user_sends_payload(self.address, payload, title=title))

    def texts(self) -> list[str]:
        return [s.text for s in self.sent()]  # one per message, so indices match sent()

    def pictures(self) -> int:
        return sum(s.kind == "image" for s in self.sent())


@contextlib.asynccontextmanager
async def learner_on_messenger(
    database_url: str, lessons: Path = ROOT / "lessons"
) -> AsyncIterator[Driver]:
    """A running bot on Messenger, against its fake, and one learner talking to it."""
    async with FakeMessenger() as fake:
        settings = messenger_settings(fake, database_url, free_port(), lessons_dir=str(lessons))
        driver = MessengerDriver(fake, settings, MARIA)
        await driver.start_serving()
        try:
            yield driver
        finally:
            await driver.stop()
