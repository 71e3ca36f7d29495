"""The fake Zalo OA API, driven by plain aiohttp calls and a tiny webhook receiver."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.fakezalo import FakeZalo, signature

USER = "5510185758261927916"
JSON = dict[str, Any]


@dataclass
class Receiver:
    """Stands in for the bot's webhook: checks Zalo's signature itself, keeps what came."""

    url: str = ""
    secret: str = "test-oa-secret"
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def events(self) -> list[JSON]:
        return [json.loads(body) for _, body in self.posts]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def post(request: web.Request) -> web.Response:
        body = await request.read()
        rec.posts.append((dict(request.headers), body))
        event = json.loads(body)
        expected = signature(event["app_id"], body, event["timestamp"], rec.secret)
        ok = request.headers.get("X-ZEvent-Signature") == expected
        return web.Response(status=200 if ok else 401)

    app = web.Application()
    app.router.add_post("/zalo", post)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}/zalo"
    yield rec
    await runner.cleanup()


@pytest.fixture
async def fake(receiver: Receiver) -> AsyncIterator[FakeZalo]:
    async with FakeZalo(webhook_url=receiver.url) as api:
        yield api


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def send(
    http: aiohttp.ClientSession, fake: FakeZalo, message: JSON, *, kind: str = "cs",
    token: str | None = None, to: str = USER,
) -> JSON:  # fmt: skip
    headers = {"access_token": fake.access_token if token is None else token}
    body = {"recipient": {"user_id": to}, "message": message}
    async with http.post(f"{fake.url}/v3.0/oa/message/{kind}", json=body, headers=headers) as r:
        assert r.status == 200  # Zalo answers its refusals with 200 too
        answer: JSON = await r.json()
        return answer


def buttons(count: int, title: str = "Tiếp", payload: str = "n~abc") -> JSON:
    items = [{"title": f"{title[: 100 - len(str(i))]}{i}" if len(title) <= 100 else title,
              "type": "oa.query.hide", "payload": payload} for i in range(count)]  # fmt: skip
    return {"text": "Chọn", "attachment": {"type": "template", "payload": {"buttons": items}}}


async def test_the_user_writes_signed_and_a_reply_goes_within_the_window(
    fake: FakeZalo, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    assert await fake.user_sends_text(USER, "Xin chào") == 200
    event = receiver.events()[0]
    assert event["event_name"] == "user_send_text"
    assert event["sender"] == {"id": USER} and event["recipient"] == {"id": fake.oa_id}
    assert event["message"]["text"] == "Xin chào" and event["message"]["msg_id"]
    assert event["timestamp"].isdigit() and len(event["timestamp"]) == 13  # milliseconds
    headers, body = receiver.posts[0]
    assert headers["X-ZEvent-Signature"].startswith("mac=")
    assert "Xin chào".encode() in body  # sent as UTF-8, as Zalo does
    answer = await send(http, fake, {"text": "Chào bạn"})
    assert answer["error"] == 0 and answer["data"]["user_id"] == USER
    assert answer["data"]["quota"]["remain"] == "7"
    assert [s.text for s in fake.messages_to(USER)] == ["Chào bạn"]


async def test_eight_replies_in_48_hours_then_the_window_refuses(
    fake: FakeZalo, http: aiohttp.ClientSession
) -> None:
    answer = await send(http, fake, {"text": "Trước khi họ viết"})
    assert answer["error"] == -230  # never wrote: no window
    await fake.user_sends_text(USER, "hi")
    for n in range(8):
        assert (await send(http, fake, {"text": f"{n}"}))["error"] == 0
    assert (await send(http, fake, {"text": "the 9th"}))["error"] == -211
    await fake.user_sends_text(USER, "again")  # writing again renews the 8
    assert (await send(http, fake, {"text": "ok"}))["error"] == 0
    fake.advance(hours=48, seconds=1)
    fake.access_token, _ = fake.issue_pair()  # the first one expired after 25 h
    assert (await send(http, fake, {"text": "late"}))["error"] == -230
    assert len(fake.messages_to(USER)) == 9 and len(fake.refused) == 3


async def test_text_and_button_limits(fake: FakeZalo, http: aiohttp.ClientSession) -> None:
    await fake.user_sends_text(USER, "hi")
    assert (await send(http, fake, {"text": "x" * 2000}))["error"] == 0
    assert (await send(http, fake, {"text": "x" * 2001}))["error"] == -210
    assert (await send(http, fake, {"text": ""}))["error"] == -201
    assert (await send(http, fake, buttons(5)))["error"] == 0
    assert (await send(http, fake, buttons(6)))["error"] == -210
    assert (await send(http, fake, buttons(1, title="t" * 100)))["error"] == 0
    assert (await send(http, fake, buttons(1, title="t" * 101)))["error"] == -210
    assert (await send(http, fake, buttons(1, payload="p" * 1001)))["error"] == -210
    odd = buttons(1)
    odd["attachment"]["payload"]["buttons"][0]["type"] = "postback"
    assert (await send(http, fake, odd))["error"] == -201
    assert len(fake.sent) == 3


async def test_a_tap_comes_back_as_the_users_text(
    fake: FakeZalo, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    await fake.user_sends_text(USER, "hi")
    await send(http, fake, buttons(2, payload="s:lesson~AbCdEfGh"))
    assert await fake.user_taps(USER, "Tiếp1") == 200
    assert receiver.events()[-1]["event_name"] == "user_send_text"
    assert receiver.events()[-1]["message"]["text"] == "s:lesson~AbCdEfGh"


async def test_access_tokens_expire_and_refresh_tokens_are_single_use(
    fake: FakeZalo, http: aiohttp.ClientSession
) -> None:
    await fake.user_sends_text(USER, "hi")
    fake.advance(hours=25, seconds=1)
    fake.wrote_at(USER, fake.now())
    assert (await send(http, fake, {"text": "x"}))["error"] == -216
    old_refresh = fake.refresh_token
    form = {"app_id": fake.app_id, "grant_type": "refresh_token", "refresh_token": old_refresh}
    url = f"{fake.url}/v4/oa/access_token"
    async with http.post(url, data=form, headers={"secret_key": "wrong"}) as r:
        assert (await r.json())["error"] == -14014
    async with http.post(url, data=form, headers={"secret_key": fake.app_secret}) as r:
        pair = await r.json()
    assert pair["expires_in"] == "90000" and pair["refresh_token"] != old_refresh
    assert (await send(http, fake, {"text": "x"}, token=pair["access_token"]))["error"] == 0
    async with http.post(url, data=form, headers={"secret_key": fake.app_secret}) as r:
        assert (await r.json())["error"] == -14020  # spent
    assert fake.refreshes == [old_refresh]


async def test_proactive_messages_need_a_verified_oa_and_the_allowance(
    fake: FakeZalo, http: aiohttp.ClientSession
) -> None:
    promo = {"attachment": {"type": "template", "payload": {
        "template_type": "promotion",
        "elements": [{"type": "header", "content": "Nhắc nhở"},
                     {"type": "text", "content": "Bài học đang chờ bạn"}]}}}  # fmt: skip
    fake.proactive_monthly = 2
    assert (await send(http, fake, promo, kind="promotion"))["error"] == 0  # no window needed
    assert (await send(http, fake, promo, kind="promotion"))["error"] == 0
    assert (await send(http, fake, promo, kind="promotion"))["error"] == -211
    assert fake.proactive_used() == 2
    fake.verified, fake.proactive_monthly = False, 100
    assert (await send(http, fake, promo, kind="promotion"))["error"] == -224
    long = json.loads(json.dumps(promo))
    long["attachment"]["payload"]["elements"][0]["content"] = "h" * 101
    fake.verified = True
    assert (await send(http, fake, long, kind="promotion"))["error"] == -210
    assert fake.messages_to(USER)[0].text == "Nhắc nhở\nBài học đang chờ bạn"


async def test_images_are_uploaded_then_sent_by_attachment_id(
    fake: FakeZalo, http: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData()
    form.add_field("file", b"\x89PNG fake", filename="stall.png", content_type="image/png")
    headers = {"access_token": fake.access_token}
    async with http.post(f"{fake.url}/v2.0/oa/upload/image", data=form, headers=headers) as r:
        attachment_id = (await r.json())["data"]["attachment_id"]
    await fake.user_sends_text(USER, "hi")
    media: JSON = {"attachment": {"type": "template", "payload": {
        "template_type": "media",
        "elements": [{"media_type": "image", "attachment_id": attachment_id}]}}}  # fmt: skip
    assert (await send(http, fake, media))["error"] == 0
    assert fake.messages_to(USER)[-1].image == attachment_id
    media["attachment"]["payload"]["elements"][0]["attachment_id"] = "nope"
    assert (await send(http, fake, media))["error"] == -201


async def test_injected_faults_blocked_users_and_html_pages(
    fake: FakeZalo, http: aiohttp.ClientSession
) -> None:
    await fake.user_sends_text(USER, "hi")
    fake.fail_next(-32)
    assert (await send(http, fake, {"text": "x"}))["error"] == -32
    fake.block(USER)
    assert (await send(http, fake, {"text": "x"}))["error"] == -213
    fake.unblock(USER)
    fake.fail_next_raw(502, "<html>502 Bad Gateway</html>")
    headers = {"access_token": fake.access_token}
    body = {"recipient": {"user_id": USER}, "message": {"text": "x"}}
    async with http.post(f"{fake.url}/v3.0/oa/message/cs", json=body, headers=headers) as r:
        assert r.status == 502 and "Bad Gateway" in await r.text()
    assert (await send(http, fake, {"text": "x"}))["error"] == 0
    assert len(fake.refused) == 3 and len(fake.calls) == 4


async def test_follow_unfollow_receipts_and_forged_posts(
    fake: FakeZalo, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    assert await fake.unfollows(USER) == 200
    assert receiver.events()[-1]["follower"] == {"id": USER}
    await fake.user_sends_text(USER, "hi")
    assert (await send(http, fake, {"text": "x"}))["error"] == -213  # not following
    await fake.follows(USER)
    await fake.user_sends_text(USER, "hi")
    await send(http, fake, {"text": "x"})
    await fake.user_saw(USER)
    assert receiver.events()[-1]["event_name"] == "user_seen_message"
    assert receiver.events()[-1]["message"]["msg_ids"] == [fake.sent[-1].message_id]
    body = b'{"app_id":"1","timestamp":"1","event_name":"follow"}'
    assert await fake.post_raw(body) == 401
    assert await fake.post_raw(body, "bad") == 401
    assert await fake.post_raw(body, "mac=" + hashlib.sha256(b"x").hexdigest()) == 401
