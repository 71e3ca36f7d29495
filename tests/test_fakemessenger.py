"""The fake Messenger Platform, driven by plain aiohttp calls and a tiny webhook receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from tests.fakemessenger import FakeMessenger

TOKEN, SECRET, PAGE = "test-page-token", "test-app-secret", "104729301820933"
USER, OTHER = "7234567890123456", "7234567890654321"
JSON = dict[str, Any]


@dataclass
class Receiver:
    """Stands in for the bot's webhook: checks Meta's signature itself, keeps what came."""

    url: str = ""
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def events(self) -> list[JSON]:
        return [e for _, body in self.posts for e in json.loads(body)["entry"][0]["messaging"]]


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def post(request: web.Request) -> web.Response:
        body = await request.read()
        rec.posts.append((dict(request.headers), body))
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        given = request.headers.get("X-Hub-Signature-256", "")
        return web.Response(status=200 if hmac.compare_digest(given, expected) else 401)

    async def get(request: web.Request) -> web.Response:
        q = request.query
        if q.get("hub.mode") == "subscribe" and q.get("hub.verify_token") == "verify-me":
            return web.Response(text=q["hub.challenge"])
        return web.Response(status=403)

    app = web.Application()
    app.router.add_post("/messenger", post)
    app.router.add_get("/messenger", get)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}/messenger"
    yield rec
    await runner.cleanup()


@pytest_asyncio.fixture
async def fake(receiver: Receiver) -> AsyncIterator[FakeMessenger]:
    async with FakeMessenger(webhook_url=receiver.url) as api:
        yield api


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, fake: FakeMessenger, body: JSON, *, token: str = TOKEN,
    path: str = "v23.0/me/messages",
) -> tuple[int, Any]:  # fmt: skip
    async with http.post(f"{fake.url}/{path}", json=body, params={"access_token": token}) as r:
        return r.status, await r.json()


def text(to: str, body: str, *, kind: str = "RESPONSE", **message: Any) -> JSON:
    return {"recipient": {"id": to}, "messaging_type": kind, "message": {"text": body, **message}}


def quick(to: str, *titles: str, payload: str = "p") -> JSON:
    replies = [{"content_type": "text", "title": t, "payload": f"{payload}{i}"}
               for i, t in enumerate(titles)]  # fmt: skip
    return text(to, "Pick one", quick_replies=replies)


def buttons(to: str, *titles: str, body: str = "Pick one") -> JSON:
    items = [{"type": "postback", "title": t, "payload": f"b{i}"} for i, t in enumerate(titles)]
    payload = {"template_type": "button", "text": body, "buttons": items}
    return {"recipient": {"id": to}, "messaging_type": "RESPONSE",
            "message": {"attachment": {"type": "template", "payload": payload}}}  # fmt: skip


def code_of(answer: JSON) -> tuple[int, int | None]:
    return answer["error"]["code"], answer["error"].get("error_subcode")


async def test_accepts_a_text_inside_the_window(
    fake: FakeMessenger, http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    assert await fake.user_sends_text(USER, "hi") == 200
    (event,) = receiver.events()
    assert event["sender"] == {"id": USER} and event["recipient"] == {"id": PAGE}
    assert event["message"]["text"] == "hi" and event["message"]["mid"].startswith("m_")
    assert event["timestamp"] == int(fake.now().timestamp() * 1000)
    status, answer = await post(http, fake, text(USER, "x" * 2000))
    assert status == 200 and answer == {"recipient_id": USER, "message_id": answer["message_id"]}
    assert fake.texts_to(USER) == ["x" * 2000] and fake.rejected == []
    assert fake.calls[-1].query["access_token"] == TOKEN


async def test_malformed_bodies_get_invalid_parameter(
    fake: FakeMessenger, http: aiohttp.ClientSession
) -> None:
    await fake.user_sends_text(USER, "hi")
    for bad in (
        text(USER, "x" * 2001),
        text(USER, ""),
        {**text(USER, "x"), "messaging_type": "PROMO"},
        {"recipient": {"id": USER}, "message": {"text": "no messaging_type"}},
        text(USER, "x", attachment={"type": "image", "payload": {"url": "https://x/y.png"}}),
        text(USER, "x", kind="MESSAGE_TAG"),  # a tag, but which?
        {**text(USER, "x"), "sender_action": "mark_seen"},
        {"recipient": [USER], "messaging_type": "RESPONSE", "message": {"text": "x"}},
    ):
        status, answer = await post(http, fake, bad)
        assert (status, answer["error"]["code"]) == (400, 100), bad
        assert answer["error"]["type"] == "OAuthException" and answer["error"]["fbtrace_id"]
    assert len(fake.rejected) == 7 and fake.sent == []  # the sender action is not a send
    status, answer = await post(http, fake, text(OTHER, "never wrote"))
    assert (status, code_of(answer)) == (400, (100, 2018001))
    assert answer["error"]["message"] == "(#100) No matching user found"


async def test_quick_reply_limits(fake: FakeMessenger, http: aiohttp.ClientSession) -> None:
    await fake.user_sends_text(USER, "hi")
    assert (await post(http, fake, quick(USER, *[f"Choice {i}" for i in range(13)])))[0] == 200
    assert (await post(http, fake, quick(USER, "x" * 20, payload="p" * 999)))[0] == 200
    for bad in (
        quick(USER, *[f"Choice {i}" for i in range(14)]),
        quick(USER, "x" * 21),
        quick(USER, "A", payload="p" * 1000),  # "p" * 1000 + "0": 1001 characters
        quick(USER, ""),
        text(USER, "Pick", quick_replies=[]),
    ):
        status, answer = await post(http, fake, bad)
        assert (status, answer["error"]["code"]) == (400, 100), bad
    _, answer = await post(http, fake, quick(USER, "x" * 21))
    assert "1 to 20 characters" in answer["error"]["message"]


async def test_button_template_limits(fake: FakeMessenger, http: aiohttp.ClientSession) -> None:
    await fake.user_sends_text(USER, "hi")
    assert (await post(http, fake, buttons(USER, "A", "B", "x" * 20, body="y" * 640)))[0] == 200
    for bad in (
        buttons(USER, "A", "B", "C", "D"),
        buttons(USER),
        buttons(USER, "x" * 21),
        buttons(USER, "A", body="y" * 641),
    ):
        status, answer = await post(http, fake, bad)
        assert (status, answer["error"]["code"]) == (400, 100), bad
    assert [s.kind for s in fake.sent] == ["button"]


async def test_the_24_hour_window_and_tags(
    fake: FakeMessenger, http: aiohttp.ClientSession
) -> None:
    await fake.user_sends_text(USER, "hi")
    fake.advance(hours=23, minutes=59)
    assert (await post(http, fake, text(USER, "still open")))[0] == 200
    fake.advance(minutes=2)
    assert not fake.window_open(USER)
    for kind in ("RESPONSE", "UPDATE"):
        status, answer = await post(http, fake, text(USER, "closed", kind=kind))
        assert (status, code_of(answer)) == (400, (10, 2018278))
        assert answer["error"]["message"] == "(#10) This message is sent outside of allowed window."
    tagged = {**text(USER, "agent", kind="MESSAGE_TAG"), "tag": "HUMAN_AGENT"}
    assert (await post(http, fake, tagged))[0] == 200
    assert fake.sent[-1].tag == "HUMAN_AGENT"  # recorded, so a test can assert none was used
    await fake.user_sends_text(USER, "back")  # a new message opens it again
    assert (await post(http, fake, text(USER, "open again")))[0] == 200


async def test_auth_and_version(fake: FakeMessenger, http: aiohttp.ClientSession) -> None:
    await fake.user_sends_text(USER, "hi")
    status, answer = await post(http, fake, text(USER, "x"), token="wrong")
    assert (status, answer["error"]["code"]) == (400, 190)
    assert (await post(http, fake, text(USER, "x"), path="23/me/messages"))[0] == 400
    assert (await post(http, fake, text(USER, "x"), path="v23.0/999/messages"))[0] == 400
    assert (await post(http, fake, text(USER, "x"), path=f"v19.0/{PAGE}/messages"))[0] == 200
    assert [c.status for c in fake.calls] == [400, 400, 400, 200]


async def upload(
    http: aiohttp.ClientSession, fake: FakeMessenger, data: bytes, mime: str, kind: str = "image"
) -> tuple[int, Any]:
    form = aiohttp.FormData()
    attachment = {"type": kind, "payload": {"is_reusable": True}}
    form.add_field("message", json.dumps({"attachment": attachment}))
    form.add_field("filedata", data, filename="stall.png", content_type=mime)
    async with http.post(f"{fake.url}/v23.0/me/message_attachments", data=form,
                         params={"access_token": TOKEN}) as r:  # fmt: skip
        return r.status, await r.json()


async def test_attachments_upload_once_and_expire(
    fake: FakeMessenger, http: aiohttp.ClientSession
) -> None:
    await fake.user_sends_text(USER, "hi")
    status, answer = await upload(http, fake, b"\x89PNG...", "image/png")
    assert status == 200
    attachment_id = answer["attachment_id"]
    (stored,) = fake.uploads
    assert (stored.attachment_id, stored.reusable, stored.data) == (
        attachment_id,
        True,
        b"\x89PNG...",
    )
    by_id = {"type": "image", "payload": {"attachment_id": attachment_id}}
    body = {
        "recipient": {"id": USER},
        "messaging_type": "RESPONSE",
        "message": {"attachment": by_id},
    }
    assert (await post(http, fake, body))[0] == 200
    assert fake.sent[-1].kind == "image"
    as_file = {**body, "message": {"attachment": {**by_id, "type": "file"}}}
    assert (await post(http, fake, as_file))[0] == 400  # it is an image
    assert (await upload(http, fake, b"%PDF", "application/pdf"))[0] == 400  # not an image
    assert (await upload(http, fake, b"", "image/png"))[0] == 400
    fake.advance(days=91)
    await fake.user_sends_text(USER, "back")
    status, answer = await post(http, fake, body)
    assert (status, answer["error"]["code"]) == (400, 100)  # 90 days: upload it again


@pytest.mark.parametrize(
    ("code", "subcode", "status"),
    [(613, None, 400), (4, None, 400), (2, None, 500), (551, 1545041, 400), (200, 1545041, 403)],
)
async def test_injected_errors(
    fake: FakeMessenger, http: aiohttp.ClientSession, code: int, subcode: int | None, status: int
) -> None:
    await fake.user_sends_text(USER, "hi")
    fake.fail_next(code, subcode)
    got, answer = await post(http, fake, text(USER, "x"))
    assert (got, code_of(answer)) == (status, (code, subcode))
    assert fake.rejected[-1].error["code"] == code
    assert (await post(http, fake, text(USER, "x")))[0] == 200  # used up


async def test_fault_options_blocking_and_raw_pages(
    fake: FakeMessenger, http: aiohttp.ClientSession
) -> None:
    await fake.user_sends_text(USER, "hi")
    await fake.user_sends_text(OTHER, "hi")
    fake.fail_next(613, times=2, to=OTHER, http_status=429, retry_after=6)
    assert (await post(http, fake, text(USER, "x")))[0] == 200  # another learner
    for _ in range(2):
        async with http.post(f"{fake.url}/v23.0/me/messages", json=text(OTHER, "x"),
                             params={"access_token": TOKEN}) as r:  # fmt: skip
            assert (r.status, r.headers["Retry-After"]) == (429, "6")
    assert (await post(http, fake, text(OTHER, "x")))[0] == 200
    fake.block(USER)
    status, answer = await post(http, fake, text(USER, "x"))
    assert (status, code_of(answer)) == (400, (551, 1545041))
    assert answer["error"]["message"] == "(#551) This person isn't available right now."
    fake.unblock(USER)
    fake.fail_next_raw(502, "<html><body>502 Bad Gateway</body></html>")
    async with http.post(f"{fake.url}/v23.0/me/messages", json=text(USER, "x"),
                         params={"access_token": TOKEN}) as r:  # fmt: skip
        assert (r.status, r.content_type) == (502, "text/html")
    assert fake.rejected[-1].error == {"raw": "<html><body>502 Bad Gateway</body></html>"}
    seen = {"recipient": {"id": USER}, "sender_action": "mark_seen"}
    assert await post(http, fake, seen) == (200, {"recipient_id": USER})
    assert fake.actions == [(USER, "mark_seen")]


async def test_webhooks_taps_postbacks_echoes_and_statuses(
    http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    async with FakeMessenger(webhook_url=receiver.url, echoes=True) as fake:
        await fake.user_sends_text(USER, "hi")
        await post(http, fake, quick(USER, "Yes", "No"))
        assert await fake.user_taps(USER, "No") == 200
        await post(http, fake, buttons(USER, "Start"))
        assert await fake.user_presses(USER, -1, "Start") == 200
        assert await fake.report_delivered(USER) == 200
        assert await fake.report_read(USER) == 200
        await fake.stop()  # waits for the echoes
    events = receiver.events()
    tapped = next(e for e in events if "quick_reply" in e.get("message", {}))
    assert tapped["message"]["text"] == "No" and tapped["message"]["quick_reply"] == {
        "payload": "p1"
    }
    pressed = next(e for e in events if "postback" in e)
    assert pressed["postback"]["payload"] == "b0" and pressed["postback"]["mid"].startswith("m_")
    echoes = [e for e in events if e.get("message", {}).get("is_echo")]
    assert len(echoes) == 2 and echoes[0]["sender"] == {"id": PAGE}
    delivery = next(e for e in events if "delivery" in e)
    assert delivery["delivery"]["mids"] == [s.mid for s in fake.sent]
    assert any("read" in e for e in events)


async def test_signature_handshake_and_redelivery(fake: FakeMessenger, receiver: Receiver) -> None:
    assert await fake.user_sends_text(USER, "hi") == 200
    headers, body = receiver.posts[-1]
    assert headers["X-Hub-Signature-256"] == fake.sign(body)
    assert await fake.redeliver_last() == 200 and receiver.posts[-1][1] == body
    assert await fake.post_raw(b"{}") == 401
    assert await fake.post_raw(b"{}", signature="bad") == 401
    assert await fake.verify_subscription("verify-me", "1158201444") == (200, "1158201444")
    assert (await fake.verify_subscription("a guess", "1"))[0] == 403


async def test_the_send_rate_per_page(receiver: Receiver, http: aiohttp.ClientSession) -> None:
    async with FakeMessenger(webhook_url=receiver.url, send_rate=3) as fake:
        await fake.user_sends_text(USER, "hi")
        statuses = [await post(http, fake, text(USER, f"{i}")) for i in range(4)]
        assert [s for s, _ in statuses] == [200, 200, 200, 400]
        assert code_of(statuses[-1][1]) == (613, None)
        assert "exceeded the rate limit" in statuses[-1][1]["error"]["message"]
