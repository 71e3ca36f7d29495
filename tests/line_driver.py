"""A learner on LINE, for the channel-neutral suite: `lessonbot run` against FakeLine.

A tap presses a quick reply button of the last message (LINE dismisses older ones with the
next message): a postback whose data the bot signed. Where the bot showed the choices as
numbered text (more than 13, or a label over 20 characters) the learner types the number. An
old or forged press is a postback with that data, as a client that kept an old message (or
someone crafting requests) would send.

Where LINE differs from the other apps, the driver says so:
- `pictures()` is always 0: LINE sends images only by public HTTPS URL, which this deployment
  does not have (bot/channels/line/sender.py), so a picture goes as its text;
- `block()` is what LINE does: the unfollow webhook, after which the learner can't write;
  pushes to them are accepted and dropped (200), so nothing counts as a failed send.
- `set_time`/`wrote_at`: LINE has no window; the fake's clock only ages reply tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from bot.config import Settings
from tests.channel_drivers import ROOT, Driver, WebhookDriver, numbered, until, webhook_settings
from tests.fakeline import FakeLine, user_id
from tests.test_telegram_e2e import free_port

SOMCHAI, MALEE = user_id(1), user_id(2)


def line_settings(fake: FakeLine, database_url: str, port: int, **extra: Any) -> Settings:
    return webhook_settings(
        database_url,
        port,
        line_channel_access_token=fake.token,
        line_channel_secret=fake.channel_secret,
        line_api_url=fake.url,
        **extra,
    )


class LineDriver(WebhookDriver):
    channel = "line"
    path = "/line"
    fake: FakeLine

    def __init__(self, fake: FakeLine, settings: Settings, address: str) -> None:
        super().__init__(fake, settings, address)
        self._pending: list[asyncio.Task[int]] = []

    def sent(self) -> list[dict[str, Any]]:
        return self.fake.messages_to(self.address)

    async def _after(self, act: Callable[[], Awaitable[int]], *, answered: bool = True) -> None:
        for task in self._pending:  # a block or unblock posted meanwhile lands first
            assert await task == 200
        self._pending.clear()
        await super()._after(act, answered=answered)

    async def type(self, text: str, *, answered: bool = True) -> None:
        await self._after(lambda: self.fake.user_says(self.address, text), answered=answered)

    async def tap(self, token: str, label: str) -> None:
        how = await until(lambda: self._choice(token, label), self.task)
        if how[0] == "data":
            await self._after(lambda: self.fake.user_postback(self.address, how[1]))
        else:  # shown as numbered text: the learner types the number of the line
            await self.type(how[1])

    def _choice(self, token: str, label: str) -> tuple[str, str] | None:
        actions = self.fake.quick_reply(self.address)
        if actions:
            return next(
                (("data", str(a["data"])) for a in actions if _token(a) == token),
                None,
            )
        return numbered((self.texts() or [""])[-1], label)

    def uploads(self) -> int:
        return 0  # LINE has no upload

    def fail_sends(self, kind: Literal["rate", "server"], times: int) -> None:
        self.fake.fail_next("rate" if kind == "rate" else "html", times=times)

    def failed_sends(self) -> int:
        return len(self.fake.rejected)

    def twin(self) -> LineDriver:
        other = LineDriver(self.fake, self.settings, MALEE)
        other.task = self.task
        return other

    def block(self) -> None:
        self._pending.append(asyncio.create_task(self.fake.user_blocks(self.address)))

    def unblock(self) -> None:
        self._pending.append(asyncio.create_task(self.fake.user_follows(self.address)))

    async def forge(self, data: str) -> None:
        await self._after(lambda: self.fake.user_postback(self.address, data))

    async def tap_old(self, index: int, token: str) -> None:
        old = self.sent()[index]
        actions = [item["action"] for item in old["quickReply"]["items"]]
        data = next(str(a["data"]) for a in actions if _token(a) == token)
        await self._after(lambda: self.fake.user_postback(self.address, data))

    def texts(self) -> list[str]:
        return self.fake.texts_to(self.address)  # one per message object, so indices match

    def pictures(self) -> int:
        return sum(m.get("type") == "image" for m in self.sent())

    def wrote_at(self, when: datetime) -> None:
        del when  # LINE keeps no window: nothing on its side depends on it


def _token(action: dict[str, Any]) -> str:
    return str(action.get("data", "")).rpartition("~")[0]


@contextlib.asynccontextmanager
async def learner_on_line(
    database_url: str, lessons: Path = ROOT / "lessons", *, quota: int | None = None
) -> AsyncIterator[Driver]:
    """A running bot on LINE, against its fake, and one learner talking to it."""
    async with FakeLine(quota=quota) as fake:
        settings = line_settings(fake, database_url, free_port(), lessons_dir=str(lessons))
        driver = LineDriver(fake, settings, SOMCHAI)
        await driver.start_serving()
        try:
            yield driver
        finally:
            await driver.stop()
