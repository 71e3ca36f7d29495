"""The LINE adapter's parts, each against the loopback fake over real HTTP: the SDK client and
its error mapping, the signed webhook, the inbox cut, the renderer, the sender's reply-token,
push, retry-key and quota rules, and the channel's reading of events."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web

from bot.channels.delivery import OverQuota, Rejected, RetryLater, Transient, Unreachable
from bot.channels.line import runner
from bot.channels.line.channel import LineChannel
from bot.channels.line.client import InvalidReplyToken, LineApi, next_month
from bot.channels.line.incoming import RECEIVED, sender_of, updates
from bot.channels.line.render import render
from bot.channels.line.sender import LineSender
from bot.channels.line.webhook import add_webhook
from bot.channels.signing import key_from_token, sign, verify
from bot.channels.window import PartlySent
from bot.config import Settings
from bot.engine import Event, Press, Say, Start, Text, Unsupported
from bot.engine.outputs import Button, Media
from bot.errors import ConfigError
from bot.service import LessonService
from bot.store import Identity
from tests.fakeline import FakeLine, user_id

SOMCHAI = user_id(1)
KEY = key_from_token("test-line-secret")
NOW = datetime(2026, 12, 3, 9, 40, tzinfo=UTC)


def choices(n: int, label: str = "ตัวเลือก") -> tuple[tuple[Button, ...], ...]:
    return (tuple(Button(f"{label} {i}" if label else str(i), f"t{i}") for i in range(n)),)


@pytest.fixture
async def fake() -> AsyncIterator[FakeLine]:
    async with FakeLine() as server:
        yield server


@dataclass
class Bot:
    """A webhook on a loopback server, storing what it is handed."""

    stored: list[list[tuple[str, dict[str, Any]]]] = field(default_factory=list)
    failing: bool = False

    async def store(self, found: list[tuple[str, dict[str, Any]]]) -> None:
        if self.failing:
            raise OSError("disk full")
        self.stored.append(found)

    def events(self) -> list[dict[str, Any]]:
        return [update for batch in self.stored for _, update in batch]


@pytest.fixture
async def bot(fake: FakeLine) -> AsyncIterator[Bot]:
    found = Bot()
    app = web.Application()
    add_webhook(app, channel_secret=fake.channel_secret, store=found.store, clock=lambda: NOW)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.webhook_url = f"http://127.0.0.1:{port}/line"
    yield found
    await runner.cleanup()


@pytest.fixture
async def sender(fake: FakeLine) -> AsyncIterator[LineSender]:
    line = LineSender(LineApi(fake.url, fake.token), KEY)
    yield line
    await line.close()


async def heard(fake: FakeLine, bot: Bot, sender: LineSender, text: str = "สวัสดี") -> str:
    """Somchai writes; the sender gets the event's reply token, as the channel gives it."""
    await fake.user_says(SOMCHAI, text)
    token = str(bot.events()[-1]["replyToken"])
    sender.heard(SOMCHAI, token, datetime.now(UTC))
    return token


# -- render -----------------------------------------------------------------------------------


def test_up_to_13_choices_become_quick_replies_with_signed_postbacks() -> None:
    say = Say("<b>เลือก</b> หนึ่งข้อ", choices(13))
    [message] = render(say, lambda token: sign(KEY, SOMCHAI, token))
    assert message["text"] == "เลือก หนึ่งข้อ"  # LINE shows plain text
    items = message["quickReply"]["items"]
    assert len(items) == 13
    action = items[0]["action"]
    assert action == {"type": "postback", "label": "ตัวเลือก 0",
                      "data": action["data"], "displayText": "ตัวเลือก 0"}  # fmt: skip
    assert verify(KEY, SOMCHAI, action["data"]) == "t0" and len(action["data"]) <= 300


LONG_LABEL = Say("Pick", ((Button("x" * 21, "t0"), Button("ok", "t1")),))


@pytest.mark.parametrize(
    ("say", "why"), [(Say("Pick", choices(14)), "14 choices"), (LONG_LABEL, "a 21-char label")]
)
def test_more_than_13_choices_or_a_long_label_become_numbered_text(say: Say, why: str) -> None:
    [message] = render(say, lambda token: token)
    assert "quickReply" not in message, why
    lines = message["text"].splitlines()
    assert lines[0] == "Pick" and lines[2].startswith("1. ")


def test_a_label_of_exactly_20_characters_is_a_button() -> None:
    [message] = render(Say("Pick", ((Button("x" * 20, "t0"),),)), lambda token: token)
    assert message["quickReply"]["items"][0]["action"]["label"] == "x" * 20


def test_a_long_text_is_split_at_5000_and_the_choices_ride_on_the_last_part() -> None:
    body = "\n\n".join(["ก" * 900] * 12)  # about 10,900 characters
    parts = render(Say(body, choices(2)), lambda token: token)
    assert len(parts) == 3 and all(len(p["text"]) <= 5000 for p in parts)
    assert ["quickReply" in p for p in parts] == [False, False, True]


def test_nothing_to_show_renders_nothing_and_choices_alone_get_a_text() -> None:
    assert render(Say(""), lambda token: token) == []
    [message] = render(Say("", choices(1)), lambda token: token)
    assert message["text"] == "…"


# -- incoming and the webhook ------------------------------------------------------------------


def test_events_are_keyed_on_their_webhook_event_id() -> None:
    base = {"mode": "active", "timestamp": 1, "deliveryContext": {"isRedelivery": False}}
    body = {"destination": "U" + "b" * 32, "events": [
        base | {"type": "message", "webhookEventId": "01A", "source": {"type": "user",
                "userId": SOMCHAI}, "message": {"type": "text", "id": "1", "text": "hi"}},
        base | {"type": "message", "webhookEventId": "01B", "source": {"type": "group",
                "groupId": "C1", "userId": SOMCHAI}},
        base | {"type": "unsend", "webhookEventId": "01C", "source": {"type": "user",
                "userId": SOMCHAI}},
        base | {"type": "unfollow", "webhookEventId": "01D", "source": {"type": "user",
                "userId": SOMCHAI}},
        "junk",
    ]}  # fmt: skip
    found = updates(body, NOW)
    assert [key for key, _ in found] == ["line:01A", "line:01D"]
    assert found[0][1][RECEIVED] == NOW.isoformat()
    assert sender_of(found[0][1]) == SOMCHAI
    assert updates({"events": "x"}, NOW) == [] and updates([], NOW) == []


async def test_unsigned_or_forged_posts_get_401_and_are_not_read(fake: FakeLine, bot: Bot) -> None:
    body = json.dumps({"destination": "x", "events": [fake.event(SOMCHAI, "follow")]}).encode()
    assert await fake.post_raw(body) == 401
    assert await fake.post_raw(body, signature="bad") == 401
    assert await fake.post_raw(body, signature="AAAA") == 401
    assert await fake.post_raw(body + b" ", signature=fake.sign(body)) == 401
    assert await fake.post_raw(b"\xff\xfe", signature=fake.sign(b"\xff\xfe")) == 401
    assert bot.stored == []
    assert await fake.post_raw(b"not json", signature=fake.sign(b"not json")) == 400
    assert await fake.post_raw(body, signature=fake.sign(body)) == 200
    assert len(bot.events()) == 1


async def test_the_console_check_and_a_storage_failure(fake: FakeLine, bot: Bot) -> None:
    assert await fake.deliver() == 200  # "Verify" in the console: no events
    assert bot.stored == []
    bot.failing = True
    assert await fake.user_says(SOMCHAI, "hi") == 503  # LINE will send it again
    bot.failing = False
    assert await fake.redeliver_last() == 200
    assert bot.events()[0]["deliveryContext"] == {"isRedelivery": True}


# -- the client's error mapping ----------------------------------------------------------------


async def test_errors_become_the_neutral_delivery_errors(fake: FakeLine, bot: Bot) -> None:
    api = LineApi(fake.url, fake.token)
    await fake.user_follows(SOMCHAI)
    hello = [{"type": "text", "text": "hi"}]
    try:
        fake.fail_next("rate")
        with pytest.raises(RetryLater):
            await api.push(SOMCHAI, hello, str(uuid.uuid4()))
        fake.fail_next("html")
        with pytest.raises(Transient, match="not a LINE answer"):
            await api.push(SOMCHAI, hello, str(uuid.uuid4()))
        fake.fail_next("server")
        with pytest.raises(Transient, match="500"):
            await api.push(SOMCHAI, hello, str(uuid.uuid4()))
        with pytest.raises(Unreachable, match="Failed to send messages"):
            await api.push(user_id(99), hello, str(uuid.uuid4()))
        with pytest.raises(Rejected, match=r"messages\[0\].text"):
            await api.push(SOMCHAI, [{"type": "text", "text": "x" * 5001}], str(uuid.uuid4()))
        with pytest.raises(InvalidReplyToken):
            await api.reply("0" * 32, hello)
        fake.quota, fake.usage = 1, 1
        with pytest.raises(OverQuota) as over:
            await api.push(SOMCHAI, hello, str(uuid.uuid4()))
        assert over.value.until == next_month(datetime.now(UTC))
        assert await api.profile(SOMCHAI) is not None and await api.profile(user_id(98)) is None
        bad = LineApi(fake.url, "wrong")
        with pytest.raises(Rejected, match="401"):
            await bad.quota()
        await bad.close()
    finally:
        await api.close()
    assert next_month(datetime(2026, 12, 31, 23, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)


# -- the sender --------------------------------------------------------------------------------


async def test_one_turn_goes_in_one_free_reply(
    fake: FakeLine, bot: Bot, sender: LineSender
) -> None:
    await heard(fake, bot, sender)
    await sender.reply(SOMCHAI, [Say("หนึ่ง"), Say("สอง"), Say("สาม", choices(3))])
    assert [(s.kind, len(s.messages)) for s in fake.sent] == [("reply", 3)]
    assert fake.usage == 0 and fake.quick_reply(SOMCHAI)[0]["label"] == "ตัวเลือก 0"


async def test_past_five_objects_the_rest_is_pushed_with_a_retry_key(
    fake: FakeLine, bot: Bot, sender: LineSender
) -> None:
    await heard(fake, bot, sender)
    await sender.reply(SOMCHAI, [Say(str(i)) for i in range(7)])
    assert [(s.kind, len(s.messages)) for s in fake.sent] == [("reply", 5), ("push", 2)]
    assert uuid.UUID(str(fake.sent[1].retry_key))
    assert fake.texts_to(SOMCHAI) == [str(i) for i in range(7)]
    # The token is used: the next turn is pushed.
    await sender.reply(SOMCHAI, [Say("later")])
    assert fake.sent[-1].kind == "push"


async def test_a_stale_or_refused_token_falls_back_to_push(
    fake: FakeLine, bot: Bot, sender: LineSender
) -> None:
    await heard(fake, bot, sender)
    sender.clock = lambda: datetime.now(UTC) + timedelta(seconds=31)  # past our budget
    await sender.reply(SOMCHAI, [Say("a")])
    assert [s.kind for s in fake.sent] == ["push"] and fake.rejected == []
    sender.clock = lambda: datetime.now(UTC)
    await heard(fake, bot, sender)
    fake.advance(seconds=61)  # LINE's minute is over, though ours was not
    await sender.reply(SOMCHAI, [Say("b")])
    assert [s.kind for s in fake.sent] == ["push", "push"]
    assert fake.rejected[0].response == {"message": "Invalid reply token"}


async def test_a_failure_after_some_says_is_partly_sent(
    fake: FakeLine, bot: Bot, sender: LineSender
) -> None:
    await heard(fake, bot, sender)
    fake.fail_next("server", on="push")
    says = [Say(str(i)) for i in range(4)] + [Say("long\n\n" + "x" * 5000), Say("end")]
    with pytest.raises(PartlySent) as partly:
        await sender.reply(SOMCHAI, says)
    assert partly.value.sent == 4  # the reply carried 4 whole Says; the 5th needs 2 objects
    assert isinstance(partly.value.cause, Transient)
    await sender.reply(SOMCHAI, says[4:])  # as the service retries the rest
    assert fake.texts_to(SOMCHAI)[4:] == ["long", "x" * 5000, "end"]


async def test_a_retried_push_reuses_its_key_and_is_not_sent_twice(
    fake: FakeLine, bot: Bot, sender: LineSender
) -> None:
    await fake.user_follows(SOMCHAI)
    fake.fail_next("lost", on="push")
    with pytest.raises(Transient):
        await sender.reply(SOMCHAI, [Say("grant")])
    await sender.reply(SOMCHAI, [Say("grant")])
    pushes = [c for c in fake.calls if c.path == "/v2/bot/message/push"]
    assert [c.status for c in pushes] == [500, 409]
    assert pushes[0].headers["X-Line-Retry-Key"] == pushes[1].headers["X-Line-Retry-Key"]
    assert fake.texts_to(SOMCHAI) == ["grant"]
    await sender.reply(SOMCHAI, [Say("grant")])  # a new message, the same words: a new key
    assert fake.texts_to(SOMCHAI) == ["grant", "grant"]


async def test_pushes_stop_at_the_monthly_quota(
    fake: FakeLine, bot: Bot, sender: LineSender
) -> None:
    await fake.user_follows(SOMCHAI)
    fake.quota = 2
    assert await sender.allowance() == 2
    await sender.send(SOMCHAI, "one", [], None)
    assert await sender.allowance() == 1
    await sender.send(SOMCHAI, "two", [[("Next", "n")]], None)
    assert await sender.allowance() == 0
    with pytest.raises(OverQuota) as over:
        await sender.send(SOMCHAI, "three", [], None)
    assert over.value.until == next_month(datetime.now(UTC))
    assert fake.rejected == []  # not even attempted
    assert sum(c.path == "/v2/bot/message/quota" for c in fake.calls) == 1  # cached
    fake.quota = None
    assert await sender.allowance() == 0  # until the cache's minute is over
    sender.clock = lambda: datetime.now(UTC) + timedelta(minutes=2)
    assert await sender.allowance() is None


async def test_the_platforms_quota_answer_is_believed(
    fake: FakeLine, bot: Bot, sender: LineSender
) -> None:
    await fake.user_follows(SOMCHAI)
    fake.quota = 5
    assert await sender.allowance() == 5
    fake.usage = 5  # the admin sent from the LINE Official Account Manager meanwhile
    with pytest.raises(OverQuota):
        await sender.send(SOMCHAI, "x", [], None)
    assert await sender.allowance() == 0


async def test_a_broadcast_photo_goes_as_its_text(
    fake: FakeLine, bot: Bot, sender: LineSender, tmp_path: Path
) -> None:
    await fake.user_follows(SOMCHAI)
    photo = tmp_path / "grant.png"
    photo.write_bytes(b"png")
    sent = await sender.send(SOMCHAI, "<b>ทุน</b>ใหม่", [[("อ่าน", "r"), ("site", "https://x.th")]],
                             photo)  # fmt: skip
    [message] = fake.messages_to(SOMCHAI)
    assert message["text"] == "ทุนใหม่\n\nsite: https://x.th"
    assert verify(KEY, SOMCHAI, message["quickReply"]["items"][0]["action"]["data"]) == "r"
    assert sent.photo_id is None and sent.message_id
    cert = Say("Your certificate. Its code is K7Q2.", media=Media("photo", "c.png", b"png"))
    await sender.reply(SOMCHAI, [cert])
    assert fake.texts_to(SOMCHAI)[-1] == "Your certificate. Its code is K7Q2."


# -- the channel -------------------------------------------------------------------------------


@dataclass
class Store:
    statuses: list[tuple[Identity, str]] = field(default_factory=list)

    async def set_status(self, who: Identity, status: str) -> None:
        self.statuses.append((who, status))


@dataclass
class Service:
    senders: dict[str, Any] = field(default_factory=dict)
    store: Store = field(default_factory=Store)
    handled: list[tuple[Identity, Event, str | None]] = field(default_factory=list)

    async def handle(self, who: Identity, event: Event, *, update_key: str | None = None) -> None:
        self.handled.append((who, event, update_key))


async def test_the_channel_reads_each_event(fake: FakeLine, bot: Bot, sender: LineSender) -> None:
    service = Service()
    channel = LineChannel(cast(LessonService, service), sender)
    assert service.senders["line"] == sender.reply
    await fake.user_follows(SOMCHAI, name="สมชาย", language="th")
    await fake.user_says(SOMCHAI, "/start digital-marketing")
    await fake.user_postback(SOMCHAI, sign(KEY, SOMCHAI, "g:th"))
    await fake.user_postback(SOMCHAI, sign(KEY, user_id(2), "g:th"))  # another learner's
    await fake.user_says(SOMCHAI, "ตอบ")
    await fake.user_sends_sticker(SOMCHAI)
    for update in bot.events():
        await channel.handle(update)
    events = [event for _, event, _ in service.handled]
    assert events == [Start(""), Start("digital-marketing"), Press("g:th"), Press(""),
                      Text("ตอบ"), Unsupported("sticker")]  # fmt: skip
    who = service.handled[0][0]
    assert (who.channel, who.external_id, who.first_name, who.language, who.country_hint) == (
        "line", SOMCHAI, "สมชาย", "th", "TH")  # fmt: skip
    assert [key for _, _, key in service.handled] == [
        f"line:{e['webhookEventId']}" for e in bot.events()]  # fmt: skip
    assert sum(c.path.startswith("/v2/bot/profile/") for c in fake.calls) == 1  # read once
    assert sender._tokens[SOMCHAI].token == bot.events()[-1]["replyToken"]
    await fake.user_blocks(SOMCHAI)
    await channel.handle(bot.events()[-1])
    assert service.store.statuses == [(Identity("line", SOMCHAI), "blocked")]
    assert len(service.handled) == 6
    with pytest.raises(ValueError):
        await channel.handle({"type": "postback", "source": {"type": "user", "userId": "U"}})


async def test_concurrent_pushes_cannot_all_take_the_last_of_the_quota(
    fake: FakeLine, bot: Bot, sender: LineSender
) -> None:
    for n in range(3):
        await fake.user_follows(user_id(n))
    fake.quota = 2
    results = await asyncio.gather(
        *(sender.send(user_id(n), "news", [], None) for n in range(3)), return_exceptions=True
    )
    assert sum(isinstance(r, OverQuota) for r in results) == 1
    assert len(fake.sends("push")) == 2 and fake.rejected == []
    assert sum(c.path == "/v2/bot/message/quota" for c in fake.calls) == 1


# -- the runner --------------------------------------------------------------------------------


async def test_the_runner_names_what_is_missing_and_reads_the_quota(fake: FakeLine) -> None:
    settings = Settings(
        _env_file=None, bot_token="", line_channel_access_token=fake.token, line_api_url=fake.url
    )
    assert runner.configured(settings)
    with pytest.raises(ConfigError, match=r"LINE_CHANNEL_SECRET is not set .*Channel secret"):
        runner.check_settings(settings)
    full = settings.model_copy(update={"line_channel_secret": fake.channel_secret})
    runner.check_settings(full)
    fake.quota, fake.usage = 500, 120
    assert await runner.allowance(full, cast(Any, None), NOW) == 380
    fake.quota = None
    assert await runner.allowance(full, cast(Any, None), NOW) is None
    assert not runner.configured(Settings(_env_file=None, bot_token=""))


async def test_a_rate_limited_reply_keeps_its_token_for_the_retry(
    fake: FakeLine, bot: Bot, sender: LineSender
) -> None:
    await heard(fake, bot, sender)
    fake.fail_next("rate", on="reply")
    with pytest.raises(RetryLater):
        await sender.reply(SOMCHAI, [Say("ok")])
    await sender.reply(SOMCHAI, [Say("ok")])  # as the service retries after the pause
    assert [s.kind for s in fake.sent] == ["reply"] and fake.usage == 0
