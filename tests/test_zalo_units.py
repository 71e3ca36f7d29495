"""The Zalo channel's parts, each against the fake over real HTTP: rendering, the webhook and
its signature, the events, the client's error mapping, the token refresh, the window."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.channels.capabilities import ZALO
from bot.channels.delivery import (
    NotAllowed,
    OverQuota,
    PartlySent,
    Rejected,
    RetryLater,
    Transient,
    Unreachable,
)
from bot.channels.signing import key_from_token, sign, verify
from bot.channels.window import WindowClosed, WindowedSender
from bot.channels.zalo.api import ZaloApi, next_month, read_answer
from bot.channels.zalo.channel import PAYLOAD
from bot.channels.zalo.incoming import message_key, sender_of, updates
from bot.channels.zalo.platform import ZaloPlatform
from bot.channels.zalo.render import promotion, render
from bot.channels.zalo.tokens import TokenPair, TokenStore
from bot.channels.zalo.webhook import add_webhook
from bot.engine import Say
from bot.engine.outputs import Button, Media
from bot.store import LearnerStore, create_engine
from tests.fakezalo import FakeZalo
from tests.test_telegram_e2e import PNG

USER = "5510185758261927916"
KEY = key_from_token("test-oa-secret")
NOW = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)


def say(text: str, *labels: str) -> Say:
    return Say(text, (tuple(Button(label, f"s:{i}") for i, label in enumerate(labels)),))


def signer(token: str) -> str:
    return sign(KEY, USER, token)


# -- render ----------------------------------------------------------------------------------


def test_up_to_5_choices_of_20_characters_are_buttons_whose_payload_is_signed() -> None:
    [message] = render(say("<b>Chọn</b> một", *"ABCDE"), signer)
    assert message["text"] == "Chọn một"
    buttons = message["attachment"]["payload"]["buttons"]
    assert [b["title"] for b in buttons] == list("ABCDE")
    assert {b["type"] for b in buttons} == {"oa.query.hide"}  # the payload stays out of the chat
    assert verify(KEY, USER, buttons[2]["payload"]) == "s:2"
    assert PAYLOAD.fullmatch(buttons[2]["payload"])
    assert ZALO.buttons == 5 and ZALO.label_chars == 20


def test_a_6th_choice_or_a_21_character_label_makes_numbered_text() -> None:
    [six] = render(say("Chọn", *"ABCDEF"), signer)
    assert six == {"text": "Chọn\n\n1. A\n2. B\n3. C\n4. D\n5. E\n6. F"}
    [long] = render(say("Chọn", "x" * 21, "B"), signer)
    assert "attachment" not in long and long["text"].endswith("2. B")
    [fits] = render(say("Chọn", "x" * 20, "B"), signer)
    assert len(fits["attachment"]["payload"]["buttons"]) == 2


def test_long_text_is_split_at_2000_and_the_buttons_ride_on_the_last_part() -> None:
    text = " ".join(["từ"] * 1500)  # 4499 characters
    parts = render(say(text, "Tiếp"), signer)
    assert [len(p["text"]) <= 2000 for p in parts] == [True, True, True]
    assert "attachment" not in parts[0] and "attachment" in parts[-1]
    assert " ".join(p["text"] for p in parts) == text


def test_a_promotion_carries_the_banner_text_and_buttons() -> None:
    body = promotion(say("Nhắc <i>nhở</i>", "Học tiếp"), signer, banner="att-1")
    payload = body["attachment"]["payload"]
    assert payload["template_type"] == "promotion"
    assert payload["elements"][0] == {"type": "banner", "attachment_id": "att-1"}
    assert payload["elements"][1]["content"] == "Nhắc nhở"
    assert payload["buttons"][0]["title"] == "Học tiếp"


# -- incoming --------------------------------------------------------------------------------


def event(name: str = "user_send_text", **fields: Any) -> dict[str, Any]:
    base = {"app_id": "1823865030574396868", "event_name": name, "timestamp": "1764730800000"}
    return base | fields


def test_events_are_keyed_on_msg_id_or_on_name_time_and_user() -> None:
    text = event(sender={"id": USER}, message={"msg_id": "m1", "text": "hi"})
    [(key, update)] = updates(text, "1823865030574396868")
    assert key == message_key("m1") and update is text and len(key) <= 64
    assert sender_of(update) == USER
    [(follow_key, _)] = updates(event("unfollow", follower={"id": USER}), "1823865030574396868")
    assert follow_key.startswith("zalo:") and follow_key != key
    assert updates(text, "another app") == []
    assert updates(event("oa_send_text", sender={"id": "oa"}), "1823865030574396868") == []
    seen = event("user_seen_message", sender={"id": "oa"}, recipient={"id": USER})
    assert sender_of(seen) == USER


# -- the webhook -----------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeZalo]:
    async with FakeZalo(start=NOW) as server:
        yield server


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/zalo"


async def test_the_webhook_stores_signed_events_and_refuses_the_rest(fake: FakeZalo) -> None:
    stored: list[list[tuple[str, dict[str, Any]]]] = []
    failing = False

    async def store(found: list[tuple[str, dict[str, Any]]]) -> None:
        if failing:
            raise OSError("disk full")
        stored.append(found)

    app = web.Application()
    add_webhook(app, app_id=fake.app_id, oa_secret=fake.oa_secret, store=store)
    runner, fake.webhook_url = await serve(app)
    try:
        assert await fake.user_sends_text(USER, "Xin chào") == 200
        assert stored[0][0][1]["message"]["text"] == "Xin chào"
        body = json.dumps(event(sender={"id": USER}, message={"msg_id": "x"})).encode()
        assert await fake.post_raw(body) == 401  # unsigned
        assert await fake.post_raw(body, "bad") == 401
        assert await fake.post_raw(body, fake.sign(body).removeprefix("mac=")) == 401
        other = json.dumps(event(app_id="999", sender={"id": USER})).encode()
        assert await fake.post_raw(other, fake.sign(other)) == 401  # another app's signature
        assert await fake.post_raw(b"not json", "mac=00") == 401
        assert len(stored) == 1
        failing = True
        assert await fake.user_sends_text(USER, "again") == 503  # Zalo will redeliver
    finally:
        await runner.cleanup()


# -- the client's errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "endpoint", "error"),
    [
        (-32, "cs", RetryLater),
        (-213, "cs", Unreachable),
        (-213, "promotion", Unreachable),
        (-230, "cs", WindowClosed),
        (-211, "cs", WindowClosed),
        (-211, "promotion", OverQuota),
        (-224, "promotion", NotAllowed),
        (-201, "cs", Rejected),
        (-210, "cs", Rejected),
    ],
)
def test_zalo_error_codes_become_delivery_errors(code: int, endpoint: Any, error: type) -> None:
    raw = json.dumps({"error": code, "message": "x"})
    with pytest.raises(error):
        read_answer(200, raw, endpoint, NOW)


def test_html_pages_and_5xx_are_transient_and_over_quota_waits_for_next_month() -> None:
    with pytest.raises(Transient):
        read_answer(502, "<html>Bad Gateway</html>", "cs", NOW)
    with pytest.raises(Transient):
        read_answer(200, "<html>", "cs", NOW)
    with pytest.raises(RetryLater):
        read_answer(429, "", "cs", NOW)
    try:
        read_answer(200, '{"error": -211, "message": "Out of quota"}', "promotion", NOW)
    except OverQuota as exc:
        assert exc.until == datetime(2026, 12, 31, 17, 0, tzinfo=UTC)  # 1 January in Hanoi
    assert next_month(datetime(2026, 12, 31, 17, 0, tzinfo=UTC)) == datetime(
        2027, 1, 31, 17, 0, tzinfo=UTC
    )


# -- tokens ----------------------------------------------------------------------------------


def api_for(fake: FakeZalo, engine: Any, clock: Any = None, **pair: str) -> ZaloApi:
    configured = TokenPair(
        pair.get("access", fake.access_token), pair.get("refresh", fake.refresh_token), None
    )
    return ZaloApi(
        api_url=fake.url,
        oauth_url=fake.url,
        app_id=fake.app_id,
        app_secret=fake.app_secret,
        tokens=TokenStore(engine, configured),
        clock=clock or fake.now,
    )


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Any]:
    made = create_engine(database_url)
    yield made
    await made.dispose()


async def test_an_expired_token_is_refreshed_once_and_the_call_retried(
    fake: FakeZalo, engine: Any
) -> None:
    api = api_for(fake, engine)
    try:
        fake.wrote_at(USER, fake.now())
        first_refresh = fake.refresh_token
        fake.expire_tokens()
        # Three sends at once: one refresh (the refresh token is single-use), three messages.
        sent = await asyncio.gather(*(api.send("cs", USER, {"text": f"{n}"}) for n in range(3)))
        assert len(set(sent)) == 3 and fake.refreshes == [first_refresh]
        stored = await api.tokens.current()
        assert stored.access_token == fake.access_token
        assert stored.refresh_token == fake.refresh_token
        assert stored.expires_at == fake.now() + timedelta(seconds=90000)
    finally:
        await api.close()


async def test_a_token_about_to_expire_is_refreshed_first_and_survives_a_restart(
    fake: FakeZalo, engine: Any
) -> None:
    settings = {"access": fake.access_token, "refresh": fake.refresh_token}
    api = api_for(fake, engine, **settings)
    fake.wrote_at(USER, fake.now())
    fake.expire_tokens()
    await api.send("cs", USER, {"text": "1"})  # refreshed on -216
    await api.close()
    assert len(fake.refreshes) == 1
    # A restart with the same settings: the stored (newer) pair wins, nothing is refreshed.
    again = api_for(fake, engine, **settings)
    try:
        await again.send("cs", USER, {"text": "2"})
        assert len(fake.refreshes) == 1
        assert fake.calls[-1].headers["access_token"] == fake.access_token
        # 24 h 56 min on, the token is within 5 minutes of its expiry: refreshed before the call.
        fake.advance(hours=24, minutes=56)
        fake.wrote_at(USER, fake.now())
        before = len(fake.calls)
        await again.send("cs", USER, {"text": "3"})
        assert [c.path for c in fake.calls[before:]] == [
            "/v4/oa/access_token",
            "/v3.0/oa/message/cs",
        ]
    finally:
        await again.close()


async def test_a_new_pair_in_the_settings_starts_a_new_chain(fake: FakeZalo, engine: Any) -> None:
    api = api_for(fake, engine)
    fake.wrote_at(USER, fake.now())
    fake.expire_tokens()
    try:
        await api.send("cs", USER, {"text": "1"})
    finally:
        await api.close()
    access, refresh = fake.issue_pair()  # the admin authorized again
    fresh = api_for(fake, engine, access=access, refresh=refresh)
    assert (await fresh.tokens.current()).access_token == access
    await fresh.send("cs", USER, {"text": "2"})
    assert fake.calls[-1].headers["access_token"] == access
    await fresh.close()


async def test_a_spent_refresh_token_says_to_authorize_again(fake: FakeZalo, engine: Any) -> None:
    api = api_for(fake, engine, refresh="refresh-spent")
    fake.wrote_at(USER, fake.now())
    fake.expire_tokens()
    with pytest.raises(Rejected, match="authorize the app again"):
        await api.send("cs", USER, {"text": "1"})
    await api.close()


# -- the platform inside and outside the window ----------------------------------------------


@pytest.fixture
async def sender(fake: FakeZalo, engine: Any) -> AsyncIterator[WindowedSender]:
    store = LearnerStore(engine)
    platform = ZaloPlatform(api_for(fake, engine), store, KEY, monthly=2, clock=fake.now)
    made = WindowedSender(platform, store, KEY, "zalo", clock=fake.now)
    yield made
    await made.close()


async def test_the_9th_reply_goes_proactive_and_the_allowance_stops_it(
    fake: FakeZalo, sender: WindowedSender
) -> None:
    fake.wrote_at(USER, fake.now())
    sender.heard(USER, fake.now())
    await sender.deliver(USER, [say(f"{n}") for n in range(8)])
    assert [s.kind for s in fake.sent] == ["cs"] * 8
    await sender.deliver(USER, [say("9", "Tiếp")])
    assert fake.sent[-1].kind == "promotion" and fake.sent[-1].buttons()[0]["title"] == "Tiếp"
    await sender.deliver(USER, [say("10")])
    with pytest.raises(OverQuota) as caught:
        await sender.deliver(USER, [say("11")])
    assert caught.value.until == datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert fake.proactive_used() == 2 and fake.refused == []  # 11 was never attempted


async def test_zalo_closing_the_window_first_sends_the_rest_proactive(
    fake: FakeZalo, sender: WindowedSender
) -> None:
    fake.wrote_at(USER, fake.now())
    sender.heard(USER, fake.now() + timedelta(hours=1))  # our clock thinks there is more time
    fake.advance(hours=48, minutes=30)
    fake.access_token, _ = fake.issue_pair()
    await sender.deliver(USER, [say("late")])
    assert [s.kind for s in fake.sent] == ["promotion"]
    assert [r.error["error"] for r in fake.refused] == [-216, -230]


async def test_blocked_learners_are_unreachable_and_a_partial_batch_says_so(
    fake: FakeZalo, sender: WindowedSender
) -> None:
    fake.wrote_at(USER, fake.now())
    sender.heard(USER, fake.now())
    fake.block(USER)
    with pytest.raises(Unreachable):
        await sender.deliver(USER, [say("x")])
    fake.unblock(USER)
    fake.fail_next(-32, after=1)
    fake.sent.clear()
    with pytest.raises(PartlySent) as caught:
        await sender.deliver(USER, [say("a"), say("b")])
    # "a" went; "b" met the rate limit.
    assert caught.value.sent == 1 and isinstance(caught.value.cause, RetryLater)


async def test_pictures_are_uploaded_once_per_file(
    fake: FakeZalo, sender: WindowedSender, tmp_path: Path
) -> None:
    fake.wrote_at(USER, fake.now())
    sender.heard(USER, fake.now())
    picture = tmp_path / "stall.png"
    picture.write_bytes(PNG)
    message = Say("Một quầy hàng", (), Media("photo", str(picture)))
    await sender.deliver(USER, [message, message])
    assert len(fake.uploads) == 1
    assert [bool(s.image) for s in fake.sent] == [True, False, True, False]
    photo_id = await sender.platform.picture(USER, picture, None)
    assert len(fake.uploads) == 2 and fake.sent[-1].image == photo_id


async def test_the_dry_run_reads_the_proactive_messages_left_this_month(
    fake: FakeZalo, sender: WindowedSender, database_url: str
) -> None:
    from bot.channels.zalo.runner import allowance
    from tests.zalo_driver import zalo_settings

    settings = zalo_settings(fake, database_url, 0, zalo_proactive_monthly=5)
    assert await allowance(settings, sender.store.engine, fake.now()) == 5
    await sender.deliver(USER, [say("a"), say("b")])  # never wrote: both proactive
    assert [s.kind for s in fake.sent] == ["promotion", "promotion"]
    assert await allowance(settings, sender.store.engine, fake.now()) == 3
    next_month_day = fake.now() + timedelta(days=31)
    assert await allowance(settings, sender.store.engine, next_month_day) == 5
