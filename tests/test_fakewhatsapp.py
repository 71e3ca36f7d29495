"""The fake WhatsApp Cloud API, driven by plain aiohttp calls and a tiny webhook receiver."""

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

from tests.fakewhatsapp import FakeCloudApi

pytestmark = pytest.mark.asyncio

TOKEN, SECRET, PNID = "test-token", "test-app-secret", "106540352242922"
USER, OTHER = "6591234567", "60123456789"
JSON = dict[str, Any]


@dataclass
class Receiver:
    """Stands in for the bot's webhook: checks Meta's signature itself, keeps what came."""

    url: str = ""
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def payloads(self) -> list[JSON]:
        return [json.loads(body) for _, body in self.posts]

    def messages(self) -> list[JSON]:
        return [p["entry"][0]["changes"][0]["value"]["messages"][0] for p in self.payloads()]


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
    app.router.add_post("/whatsapp", post)
    app.router.add_get("/whatsapp", get)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}/whatsapp"
    yield rec
    await runner.cleanup()


@pytest_asyncio.fixture
async def fake(receiver: Receiver) -> AsyncIterator[FakeCloudApi]:
    templates: dict[tuple[str, str], int | tuple[int, str]] = {
        ("lesson_reminder", "en"): 1,  # one body parameter, a UTILITY template
        ("welcome_back", "ms"): (0, "MARKETING"),
    }
    async with FakeCloudApi(templates=templates, webhook_url=receiver.url) as api:
        yield api


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, fake: FakeCloudApi, body: JSON, *, token: str = TOKEN,
    path: str = f"v23.0/{PNID}/messages",
) -> tuple[int, Any]:  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    async with http.post(f"{fake.url}/{path}", json=body, headers=headers) as r:
        return r.status, await r.json()


def text(to: str, body: str) -> JSON:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}}


def buttons(to: str, *titles: str, body: str = "Pick one") -> JSON:
    action = {"buttons": [{"type": "reply", "reply": {"id": f"b:{t}", "title": t}} for t in titles]}
    inter = {"type": "button", "body": {"text": body}, "action": action}
    return {"messaging_product": "whatsapp", "to": to, "type": "interactive", "interactive": inter}


def listing(to: str, *sections: int, **row: str) -> JSON:
    """A list message with `sections[i]` rows in section i."""
    rows = iter({"id": f"r{k}", "title": f"Row {k}", **row} for k in range(100))
    secs = [{"title": f"Part {i}", "rows": [next(rows) for _ in range(count)]}
            for i, count in enumerate(sections)]  # fmt: skip
    inter = {
        "type": "list",
        "body": {"text": "Lessons"},
        "action": {"button": "Open", "sections": secs},
    }
    return {"messaging_product": "whatsapp", "to": to, "type": "interactive", "interactive": inter}


def template(to: str, name: str, lang: str, *params: str) -> JSON:
    tpl: JSON = {"name": name, "language": {"code": lang}}
    if params:
        tpl["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}
        ]
    return {"messaging_product": "whatsapp", "to": to, "type": "template", "template": tpl}


async def test_accepts_a_valid_text_inside_the_window(
    fake: FakeCloudApi, http: aiohttp.ClientSession
) -> None:
    assert await fake.user_sends_text(USER, "hi", name="Aye") == 200
    status, answer = await post(http, fake, text(USER, "Welcome!"))
    assert status == 200
    wamid = answer["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    assert answer == {"messaging_product": "whatsapp", "contacts": [{"input": USER, "wa_id": USER}],
                      "messages": [{"id": wamid}]}  # fmt: skip
    (sent,) = fake.messages_to(USER)
    assert (sent.wamid, sent.time, fake.texts_to(USER)) == (wamid, fake.now(), ["Welcome!"])
    assert fake.calls[-1].headers["Authorization"] == f"Bearer {TOKEN}"
    assert fake.calls[-1].json["text"]["body"] == "Welcome!" and fake.rejected == []
    status, again = await post(http, fake, text(USER, "x" * 4096))
    assert status == 200 and again["messages"][0]["id"] != wamid


async def test_malformed_bodies_get_invalid_parameter(
    fake: FakeCloudApi, http: aiohttp.ClientSession
) -> None:
    await fake.user_sends_text(USER, "hi")
    for bad in (
        {**text(USER, "x"), "messaging_product": "sms"},
        text("+6591234567", "x"),
        {**text(USER, "x"), "type": "video"},
        text(USER, ""),
        text(USER, "x" * 4097),
        {
            **template(USER, "lesson_reminder", "en"),
            "template": {
                "name": "lesson_reminder",
                "language": {"code": "en"},
                "components": ["body"],
            },
        },
        {
            **buttons(USER, "A"),
            "interactive": {"type": "button", "body": {"text": "b"}, "action": {"buttons": ["A"]}},
        },
    ):
        status, answer = await post(http, fake, bad)
        assert (status, answer["error"]["code"]) == (400, 100), bad
        assert answer["error"]["type"] == "OAuthException" and answer["error"]["fbtrace_id"]
    assert len(fake.rejected) == 7 and fake.sent == []
    no_type = {"messaging_product": "whatsapp", "to": USER, "text": {"body": "x"}}
    assert (await post(http, fake, no_type))[0] == 200  # Graph's type defaults to text


async def test_reply_button_limits(fake: FakeCloudApi, http: aiohttp.ClientSession) -> None:
    await fake.user_sends_text(USER, "hi")
    assert (await post(http, fake, buttons(USER, "A", "B", "x" * 20)))[0] == 200
    for bad in (
        buttons(USER, "A", "B", "C", "D"),
        buttons(USER, "x" * 21),
        buttons(USER, "A", "A"),
        buttons(USER, "A", body="y" * 1025),
        buttons(USER),
    ):
        status, answer = await post(http, fake, bad)
        assert (status, answer["error"]["code"]) == (400, 131009), bad
    _, answer = await post(http, fake, buttons(USER, "x" * 21))
    assert "Max length: 20" in answer["error"]["error_data"]["details"]
    assert len(fake.sent) == 1


async def test_list_limits(fake: FakeCloudApi, http: aiohttp.ClientSession) -> None:
    await fake.user_sends_text(USER, "hi")
    assert (await post(http, fake, listing(USER, 4, 6, description="d" * 72)))[0] == 200
    untitled = listing(USER, 2, 2)
    del untitled["interactive"]["action"]["sections"][1]["title"]
    for bad, code in (
        (listing(USER, 11), 131009),
        (listing(USER, 5, 6), 131009),  # 10 rows at most, across the sections
        (listing(USER, 1, description="d" * 73), 131009),
        (listing(USER, *[1] * 11), 131009),
        (untitled, 131008),  # two sections: each needs its title
    ):
        status, answer = await post(http, fake, bad)
        assert (status, answer["error"]["code"]) == (400, code), bad
    one = listing(USER, 2)
    del one["interactive"]["action"]["sections"][0]["title"]  # fine with a single section
    assert (await post(http, fake, one))[0] == 200


async def test_window_templates_and_the_clock(
    fake: FakeCloudApi, http: aiohttp.ClientSession
) -> None:
    status, answer = await post(http, fake, text(USER, "never wrote"))
    assert (status, answer["error"]["code"]) == (400, 131047)
    assert answer["error"]["message"] == "(#131047) Re-engagement message"
    status, answer = await post(http, fake, template(USER, "lesson_reminder", "en", "Lesson 3"))
    assert status == 200 and answer["messages"][0]["message_status"] == "accepted"
    assert fake.texts_to(USER) == ["[lesson_reminder] Lesson 3"]

    await fake.user_sends_text(USER, "hi")
    fake.advance(hours=23, minutes=59)
    assert (await post(http, fake, text(USER, "still open")))[0] == 200
    fake.advance(minutes=2)
    assert not fake.window_open(USER)
    assert (await post(http, fake, text(USER, "closed")))[1]["error"]["code"] == 131047
    assert (await post(http, fake, template(USER, "welcome_back", "ms")))[0] == 200
    await fake.user_sends_text(USER, "back")  # a new message opens it again
    assert (await post(http, fake, text(USER, "open again")))[0] == 200


async def test_template_rules(fake: FakeCloudApi, http: aiohttp.ClientSession) -> None:
    for body, status, code in (
        (template(USER, "no_such", "en"), 404, 132001),
        (template(USER, "lesson_reminder", "ms", "x"), 404, 132001),  # not in that language
        (template(USER, "lesson_reminder", "en"), 400, 132000),
        (template(USER, "lesson_reminder", "en", "a", "b"), 400, 132000),
        (template(USER, "lesson_reminder", "en", "two\nlines"), 400, 132018),
    ):
        got, answer = await post(http, fake, body)
        assert (got, answer["error"]["code"]) == (status, code), body
    _, answer = await post(http, fake, template(USER, "no_such", "en"))
    assert answer["error"]["message"] == "(#132001) Template name does not exist in the translation"


async def test_auth_phone_number_and_version(
    fake: FakeCloudApi, http: aiohttp.ClientSession
) -> None:
    status, answer = await post(http, fake, text(USER, "x"), token="wrong")
    assert (status, answer["error"]["code"], answer["error"]["type"]) == (
        401,
        190,
        "OAuthException",
    )
    async with http.post(f"{fake.url}/v23.0/{PNID}/messages", json=text(USER, "x")) as r:
        assert r.status == 401 and (await r.json())["error"]["code"] == 190
    status, answer = await post(http, fake, text(USER, "x"), path="v23.0/999/messages")
    assert (status, answer["error"]["code"]) == (400, 100)
    assert (await post(http, fake, text(USER, "x"), path=f"23/{PNID}/messages"))[0] == 400
    await fake.user_sends_text(USER, "hi")
    assert (await post(http, fake, text(USER, "x"), path=f"v19.0/{PNID}/messages"))[0] == 200
    assert [c.status for c in fake.calls] == [401, 401, 400, 400, 200]


@pytest.mark.parametrize(
    ("code", "status"), [(130429, 400), (131056, 400), (131047, 400), (131026, 400), (131000, 500)]
)
async def test_injected_errors(
    fake: FakeCloudApi, http: aiohttp.ClientSession, code: int, status: int
) -> None:
    await fake.user_sends_text(USER, "hi")
    fake.fail_next(code)
    got, answer = await post(http, fake, text(USER, "x"))
    assert (got, answer["error"]["code"]) == (status, code)
    assert answer["error"]["message"].startswith(f"(#{code}) ")
    assert fake.rejected[-1].error["code"] == code
    assert (await post(http, fake, text(USER, "x")))[0] == 200  # used up


async def test_fault_options(fake: FakeCloudApi, http: aiohttp.ClientSession) -> None:
    await fake.user_sends_text(USER, "hi")
    await fake.user_sends_text(OTHER, "hi")
    fake.fail_next(131056, times=2, to=OTHER, http_status=429, retry_after=6)
    assert (await post(http, fake, text(USER, "x")))[0] == 200  # another learner
    for _ in range(2):
        async with http.post(f"{fake.url}/v23.0/{PNID}/messages", json=text(OTHER, "x"),
                             headers={"Authorization": f"Bearer {TOKEN}"}) as r:  # fmt: skip
            assert (r.status, r.headers["Retry-After"]) == (429, "6")
            assert (await r.json())["error"]["code"] == 131056
    assert (await post(http, fake, text(OTHER, "x")))[0] == 200

    fake.fail_next(130429)
    mark = {"messaging_product": "whatsapp", "status": "read", "message_id": fake.received[0]["id"]}
    assert (await post(http, fake, mark)) == (200, {"success": True})  # reads are not sends
    assert fake.reads == [fake.received[0]["id"]]
    fake.clear_faults()
    assert (await post(http, fake, text(USER, "x")))[0] == 200

    fake.block(USER)
    status, answer = await post(http, fake, template(USER, "lesson_reminder", "en", "x"))
    assert (status, answer["error"]["code"]) == (400, 131026)
    fake.unblock(USER)
    assert (await post(http, fake, text(USER, "x")))[0] == 200


async def test_raw_failures(fake: FakeCloudApi, http: aiohttp.ClientSession) -> None:
    await fake.user_sends_text(USER, "hi")
    fake.fail_next_raw(502, "<html><body>Bad Gateway</body></html>")
    fake.fail_next_raw(200, '{"messaging_product": "whats', "application/json")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{fake.url}/v23.0/{PNID}/messages"
    async with http.post(url, json=text(USER, "x"), headers=headers) as r:
        assert (r.status, r.content_type) == (502, "text/html")
        assert "Bad Gateway" in await r.text()
    async with http.post(url, json=text(USER, "x"), headers=headers) as r:
        assert r.status == 200
        with pytest.raises(ValueError):
            json.loads(await r.text())
    assert [r.status for r in fake.rejected] == [502, 200] and fake.sent == []


async def test_media_uploads(fake: FakeCloudApi, http: aiohttp.ClientSession) -> None:
    async def upload(data: bytes, mime: str, product: str = "whatsapp") -> tuple[int, JSON]:
        form = aiohttp.FormData()
        form.add_field("messaging_product", product)
        form.add_field("type", mime)
        form.add_field("file", data, filename="cert.png", content_type=mime)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with http.post(f"{fake.url}/v23.0/{PNID}/media", data=form, headers=headers) as r:
            return r.status, await r.json()

    status, answer = await upload(b"\x89PNG data", "image/png")
    assert status == 200 and answer["id"].isdigit()
    (up,) = fake.uploads
    assert (up.media_id, up.mime_type, up.filename, up.data) == (
        answer["id"], "image/png", "cert.png", b"\x89PNG data")  # fmt: skip
    assert up.sha256 == hashlib.sha256(b"\x89PNG data").hexdigest()
    assert fake.calls[-1].form == {"messaging_product": "whatsapp", "type": "image/png"}
    assert (await upload(b"x", "application/x-msdownload"))[1]["error"]["code"] == 100
    assert (await upload(b"x", "image/png", product="sms"))[0] == 400
    _, pdf = await upload(b"%PDF-1.4", "application/pdf")

    await fake.user_sends_text(USER, "hi")
    image = {"messaging_product": "whatsapp", "to": USER, "type": "image",
             "image": {"id": answer["id"], "caption": "Your certificate"}}  # fmt: skip
    assert (await post(http, fake, image))[0] == 200
    doc = {**image, "type": "document", "document": {"id": pdf["id"], "filename": "c.pdf"}}
    assert (await post(http, fake, doc))[0] == 200
    assert fake.texts_to(USER) == ["Your certificate", ""]
    for bad in (
        {**image, "image": {"id": "123"}},  # never uploaded
        {**image, "image": {"id": pdf["id"]}},  # a PDF is no image
        {**image, "image": {"link": "ftp://x/y.png"}},
    ):
        assert (await post(http, fake, bad))[1]["error"]["code"] == 100, bad
    too_long = {**image, "image": {"link": "https://x.example/y.png", "caption": "c" * 1025}}
    assert (await post(http, fake, too_long))[1]["error"]["code"] == 131009
    assert len(fake.uploads) == 2  # the refused uploads are not recorded


async def test_mark_as_read(fake: FakeCloudApi, http: aiohttp.ClientSession) -> None:
    await fake.user_sends_text(USER, "hi")
    read = {"messaging_product": "whatsapp", "status": "read"}
    assert await post(http, fake, {**read, "message_id": fake.received[0]["id"]}) == (
        200, {"success": True})  # fmt: skip
    status, answer = await post(http, fake, {**read, "message_id": "wamid.nope"})
    assert (status, answer["error"]["code"]) == (400, 100)
    assert fake.rejected == []  # reads are not message sends


async def test_webhooks_are_signed_like_meta(fake: FakeCloudApi, receiver: Receiver) -> None:
    assert await fake.user_sends_text(USER, "Mingalaba 🙏", name="Aye") == 200
    headers, body = receiver.posts[0]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Hub-Signature-256"] == fake.sign(body)
    assert b"\\ud83d\\ude4f" in body  # Meta signs the \u-escaped payload
    payload = json.loads(body)
    assert payload["object"] == "whatsapp_business_account"
    change = payload["entry"][0]["changes"][0]
    assert (payload["entry"][0]["id"], change["field"]) == (fake.waba_id, "messages")
    value = change["value"]
    assert value["metadata"] == {"display_phone_number": fake.display_phone_number,
                                 "phone_number_id": PNID}  # fmt: skip
    assert value["contacts"] == [{"profile": {"name": "Aye"}, "wa_id": USER}]
    (msg,) = value["messages"]
    assert msg["from"] == USER and msg["id"].startswith("wamid.") and msg["type"] == "text"
    assert (msg["text"], int(msg["timestamp"])) == (
        {"body": "Mingalaba 🙏"},
        fake.now().timestamp(),
    )

    assert await fake.redeliver_last() == 200
    assert receiver.posts[1][1] == body
    assert await fake.post_raw(body, signature="bad") == 401
    assert await fake.post_raw(body) == 401
    assert "X-Hub-Signature-256" not in receiver.posts[-1][0]
    assert await fake.post_raw(b'{"object":"x"}', fake.sign(b'{"object":"x"}')) == 200
    assert await fake.verify_subscription("verify-me", "1158201444") == (200, "1158201444")
    assert (await fake.verify_subscription("wrong", "1158201444"))[0] == 403

    fake.app_secret = "rotated"  # a bot holding the old secret refuses it
    assert await fake.user_sends_text(USER, "again") == 401


async def test_user_taps_the_right_choice(
    fake: FakeCloudApi, http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    await fake.user_sends_text(USER, "hi")
    _, first = await post(http, fake, buttons(USER, "Yes", "No"))
    await post(http, fake, text(USER, "meanwhile"))  # plain text leaves the buttons usable
    assert await fake.user_taps(USER, "No") == 200
    tap = receiver.messages()[-1]
    assert tap["type"] == "interactive"
    assert tap["interactive"] == {"type": "button_reply",
                                  "button_reply": {"id": "b:No", "title": "No"}}  # fmt: skip
    assert tap["context"] == {"from": fake.display_phone_number, "id": first["messages"][0]["id"]}
    await fake.user_taps(USER, "b:Yes")  # by id too
    assert receiver.messages()[-1]["interactive"]["button_reply"]["title"] == "Yes"

    await post(http, fake, listing(USER, 2, 1, description="10 minutes"))
    await fake.user_taps(USER, "Row 2")
    assert receiver.messages()[-1]["interactive"] == {
        "type": "list_reply",
        "list_reply": {"id": "r2", "title": "Row 2", "description": "10 minutes"},
    }
    with pytest.raises(AssertionError, match="'Yes' is not on message"):
        await fake.user_taps(USER, "Yes")  # that was the older message
    await fake.user_taps_stale(USER, 0, "Yes")
    assert receiver.messages()[-1]["context"]["id"] == first["messages"][0]["id"]
    with pytest.raises(AssertionError, match="has no buttons"):
        await fake.user_taps_stale(USER, 1, "Yes")
    with pytest.raises(AssertionError, match="no interactive message"):
        await fake.user_taps(OTHER, "Yes")


async def test_other_user_messages_and_statuses(
    fake: FakeCloudApi, http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    await fake.user_sends_image(USER, caption="my shop")
    image = receiver.messages()[-1]
    assert image["type"] == "image" and image["image"]["caption"] == "my shop"
    assert {"id", "mime_type", "sha256"} <= image["image"].keys()
    await fake.user_sends(
        USER, {"type": "sticker", "sticker": {"id": "77", "mime_type": "image/webp"}}
    )
    assert receiver.messages()[-1]["sticker"]["id"] == "77"

    _, answer = await post(http, fake, text(USER, "thanks"))
    wamid = answer["messages"][0]["id"]
    assert await fake.report_statuses("delivered") == 200
    (entry,) = receiver.payloads()[-1]["entry"][0]["changes"][0]["value"]["statuses"]
    assert {k: entry[k] for k in ("id", "status", "recipient_id")} == {
        "id": wamid, "status": "delivered", "recipient_id": USER}  # fmt: skip
    assert await fake.post_statuses(fake.status_entry(wamid, "failed")) == 200
    (failed,) = receiver.payloads()[-1]["entry"][0]["changes"][0]["value"]["statuses"]
    assert failed["errors"][0]["code"] == 131026 and failed["errors"][0]["title"]


async def test_errors_via_webhook(receiver: Receiver, http: aiohttp.ClientSession) -> None:
    async with FakeCloudApi(webhook_url=receiver.url, errors_via_webhook=True) as fake:
        status, answer = await post(http, fake, text(USER, "outside the window"))
        assert status == 200  # accepted, then reported failed
        assert fake.sent == [] and fake.rejected[0].wamid == answer["messages"][0]["id"]
        assert await fake.report_statuses() == 200
        value = receiver.payloads()[-1]["entry"][0]["changes"][0]["value"]
        assert [(s["status"], s["errors"][0]["code"]) for s in value["statuses"]] == [
            ("failed", 131047)]  # fmt: skip
