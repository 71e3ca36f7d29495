"""The LINE fake keeps LINE's rules: what it refuses, how, and what it records.

Plain aiohttp calls, so the fake is checked apart from the SDK the product uses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.fakeline import MONTHLY_LIMIT, RATE_LIMITED, FakeLine, user_id

SOMCHAI = user_id(1)
JSON = dict[str, Any]


@pytest.fixture
async def fake() -> AsyncIterator[FakeLine]:
    async with FakeLine(quota=10) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, fake: FakeLine, path: str, body: JSON | None = None, **headers: str
) -> tuple[int, Any, dict[str, str]]:
    sent = {"Authorization": f"Bearer {fake.token}"} | headers
    method = http.get if body is None else http.post
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    async with method(f"{fake.url}{path}", headers=sent, **kwargs) as r:
        text = await r.text()
        try:
            answer: Any = json.loads(text)
        except ValueError:
            answer = text
        return r.status, answer, dict(r.headers)


def text(body: str = "hi", **extra: Any) -> JSON:
    return {"type": "text", "text": body, **extra}


def quick(n: int, label: str = "Go", data: str = "d") -> JSON:
    items = [{"type": "action", "action": {"type": "postback", "label": label,
                                            "data": f"{data}{i}", "displayText": label}}
             for i in range(n)]  # fmt: skip
    return {"items": items}


async def push(http: aiohttp.ClientSession, fake: FakeLine, *messages: JSON, key: str = "") -> Any:
    headers = {"X-Line-Retry-Key": key} if key else {}
    return await call(http, fake, "/v2/bot/message/push",
                      {"to": SOMCHAI, "messages": list(messages)}, **headers)  # fmt: skip


class Webhooks:
    """The bot's side of the webhook: records what the fake posts."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.signatures: list[str] = []

    async def receive(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        self.signatures.append(request.headers.get("X-Line-Signature", ""))
        return web.Response(text="ok")

    def events(self) -> list[JSON]:
        return [e for b in self.bodies for e in json.loads(b)["events"]]


@pytest.fixture
async def bot(fake: FakeLine) -> AsyncIterator[Webhooks]:
    hooks = Webhooks()
    app = web.Application()
    app.router.add_post("/line", hooks.receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.webhook_url = f"http://127.0.0.1:{port}/line"
    yield hooks
    await runner.cleanup()


async def test_the_token_is_checked(fake: FakeLine, http: aiohttp.ClientSession) -> None:
    status, answer, _ = await call(http, fake, "/v2/bot/message/quota", Authorization="Bearer x")
    assert status == 401 and answer["message"].startswith("Authentication failed")


async def test_five_messages_per_call_and_5000_characters(
    fake: FakeLine, http: aiohttp.ClientSession, bot: Webhooks
) -> None:
    await fake.user_follows(SOMCHAI)
    status, _, _ = await push(http, fake, *[text()] * 5)
    assert status == 200
    status, answer, _ = await push(http, fake, *[text()] * 6)
    assert status == 400
    assert answer == {"message": "The request body has 1 error(s)",
                      "details": [{"message": "Size must be between 1 and 5",
                                   "property": "messages"}]}  # fmt: skip
    assert (await push(http, fake, text("x" * 5000)))[0] == 200
    status, answer, _ = await push(http, fake, text("x" * 5001), text(""))
    assert status == 400 and answer["message"] == "The request body has 2 error(s)"
    assert [d["property"] for d in answer["details"]] == ["messages[0].text", "messages[1].text"]
    assert len(fake.rejected) == 2 and len(fake.sent) == 2


async def test_quick_replies_13_items_labels_of_20(
    fake: FakeLine, http: aiohttp.ClientSession, bot: Webhooks
) -> None:
    await fake.user_follows(SOMCHAI)
    assert (await push(http, fake, text(quickReply=quick(13, "x" * 20))))[0] == 200
    status, answer, _ = await push(http, fake, text(quickReply=quick(14)))
    assert status == 400
    assert answer["details"] == [{"message": "Size must be between 1 and 13",
                                  "property": "messages[0].quickReply.items"}]  # fmt: skip
    status, answer, _ = await push(http, fake, text(quickReply=quick(1, "x" * 21)))
    assert answer["details"][0]["property"] == "messages[0].quickReply.items[0].action.label"
    status, answer, _ = await push(http, fake, text(quickReply=quick(1, data="d" * 300)))
    assert answer["details"][0]["property"] == "messages[0].quickReply.items[0].action.data"
    assert (await push(http, fake, text(quickReply=quick(1, data="d" * 299))))[0] == 200


async def test_a_reply_token_is_single_use_and_lasts_a_minute(
    fake: FakeLine, http: aiohttp.ClientSession, bot: Webhooks
) -> None:
    await fake.user_says(SOMCHAI, "สวัสดี")
    await fake.user_says(SOMCHAI, "again")
    first, second = (e["replyToken"] for e in bot.events())
    reply = {"replyToken": first, "messages": [text()]}
    status, answer, _ = await call(http, fake, "/v2/bot/message/reply", reply)
    assert status == 200 and len(answer["sentMessages"]) == 1
    status, answer, _ = await call(http, fake, "/v2/bot/message/reply", reply)
    assert (status, answer) == (400, {"message": "Invalid reply token"})
    fake.advance(seconds=61)
    late = {"replyToken": second, "messages": [text()]}
    assert (await call(http, fake, "/v2/bot/message/reply", late))[0] == 400
    key = str(uuid.uuid4())
    status, answer, _ = await call(http, fake, "/v2/bot/message/reply", late, **{
        "X-Line-Retry-Key": key})  # fmt: skip
    assert status == 400 and "retry key" in answer["message"]
    assert [s.kind for s in fake.sent] == ["reply"] and fake.usage == 0  # replies are free


async def test_a_retried_push_is_delivered_once(
    fake: FakeLine, http: aiohttp.ClientSession, bot: Webhooks
) -> None:
    await fake.user_follows(SOMCHAI)
    key = str(uuid.uuid4())
    fake.fail_next("lost")  # delivered, but the answer never came back
    status, _, _ = await push(http, fake, text("grant news"), key=key)
    assert status == 500
    status, answer, headers = await push(http, fake, text("grant news"), key=key)
    assert status == 409 and answer == {"message": "The retry key is already accepted"}
    assert headers["x-line-accepted-request-id"] == fake.sent[0].request_id
    assert fake.texts_to(SOMCHAI) == ["grant news"] and fake.usage == 1
    fake.advance(hours=24)  # LINE keeps a retry key for 24 hours
    assert (await push(http, fake, text("grant news"), key=key))[0] == 200
    assert (await push(http, fake, text(), key="not-a-uuid"))[0] == 400


async def test_the_monthly_quota_is_read_and_enforced(
    fake: FakeLine, http: aiohttp.ClientSession, bot: Webhooks
) -> None:
    await fake.user_follows(SOMCHAI)
    assert (await call(http, fake, "/v2/bot/message/quota"))[1] == {"type": "limited", "value": 10}
    for _ in range(10):  # one per recipient, whatever the number of objects
        assert (await push(http, fake, text(), text()))[0] == 200
    assert (await call(http, fake, "/v2/bot/message/quota/consumption"))[1] == {"totalUsage": 10}
    status, answer, _ = await push(http, fake, text())
    assert (status, answer) == (429, {"message": MONTHLY_LIMIT})
    fake.quota = None
    assert (await call(http, fake, "/v2/bot/message/quota"))[1] == {"type": "none"}


async def test_multicast_takes_500_ids(fake: FakeLine, http: aiohttp.ClientSession) -> None:
    fake.quota = None
    ids = [user_id(n) for n in range(501)]
    for u in ids:
        fake.block(u)  # known to the account (they blocked it): accepted, not delivered
    body = {"to": ids[:500], "messages": [text()]}
    status, answer, _ = await call(http, fake, "/v2/bot/message/multicast", body)
    assert (status, answer) == (200, {})
    assert fake.sent[0].delivered_to == [] and fake.usage == 0  # blocked: not counted
    body = {"to": ids, "messages": [text()]}
    assert (await call(http, fake, "/v2/bot/message/multicast", body))[0] == 400


async def test_injected_failures(
    fake: FakeLine, http: aiohttp.ClientSession, bot: Webhooks
) -> None:
    await fake.user_follows(SOMCHAI)
    fake.fail_next("rate")
    assert (await push(http, fake, text()))[:2] == (429, {"message": RATE_LIMITED})
    fake.fail_next("html")
    status, answer, _ = await push(http, fake, text())
    assert status == 502 and "<html>" in answer
    fake.fail_next("server", times=2)
    assert (await push(http, fake, text()))[0] == 500
    assert (await push(http, fake, text()))[0] == 500
    assert (await push(http, fake, text()))[0] == 200
    assert len(fake.rejected) == 4 and fake.usage == 1  # a 429 or 5xx is not processed


async def test_blocked_and_unknown_users(
    fake: FakeLine, http: aiohttp.ClientSession, bot: Webhooks
) -> None:
    await fake.user_follows(SOMCHAI, name="สมชาย", language="th")
    profile = await call(http, fake, f"/v2/bot/profile/{SOMCHAI}")
    assert profile[1] == {"displayName": "สมชาย", "userId": SOMCHAI, "language": "th"}
    await fake.user_blocks(SOMCHAI)
    assert bot.events()[-1]["type"] == "unfollow" and "replyToken" not in bot.events()[-1]
    assert (await push(http, fake, text("lost")))[0] == 200  # accepted and dropped
    assert fake.texts_to(SOMCHAI) == []
    gone = await call(http, fake, f"/v2/bot/profile/{SOMCHAI}")
    assert gone[:2] == (404, {"message": "Not found"})
    body = {"to": user_id(99), "messages": [text()]}
    status, answer, _ = await call(http, fake, "/v2/bot/message/push", body)
    assert (status, answer) == (400, {"message": "Failed to send messages"})
    await fake.user_follows(SOMCHAI)
    assert bot.events()[-1]["follow"] == {"isUnblocked": True}


async def test_webhooks_are_signed_and_redelivered_with_the_same_id(
    fake: FakeLine, bot: Webhooks
) -> None:
    assert await fake.user_says(SOMCHAI, "เริ่ม") == 200
    body, signature = bot.bodies[0], bot.signatures[0]
    mac = hmac.new(fake.channel_secret.encode(), body, hashlib.sha256).digest()
    assert signature == base64.b64encode(mac).decode()
    payload = json.loads(body)
    assert payload["destination"] == fake.bot_user_id
    event = payload["events"][0]
    assert event["source"] == {"type": "user", "userId": SOMCHAI}
    assert event["message"]["text"] == "เริ่ม" and len(event["webhookEventId"]) == 26
    assert event["deliveryContext"] == {"isRedelivery": False}
    assert await fake.redeliver_last() == 200
    again = json.loads(bot.bodies[1])["events"][0]
    assert again["webhookEventId"] == event["webhookEventId"]
    assert again["deliveryContext"] == {"isRedelivery": True}
    assert await fake.post_raw(b"{}") == 200  # the recorder takes anything; the bot must not


async def test_a_tap_is_a_postback_with_the_buttons_data(
    fake: FakeLine, http: aiohttp.ClientSession, bot: Webhooks
) -> None:
    await fake.user_follows(SOMCHAI)
    await push(http, fake, text("ready?", quickReply=quick(2, "Next", data="tok~")))
    assert [a["data"] for a in fake.quick_reply(SOMCHAI)] == ["tok~0", "tok~1"]
    await fake.user_taps(SOMCHAI, "tok~1")
    event = bot.events()[-1]
    assert event["type"] == "postback" and event["postback"] == {"data": "tok~1"}
    await push(http, fake, text("no buttons"))
    assert fake.quick_reply(SOMCHAI) == []  # the next message dismisses them
    with pytest.raises(AssertionError):
        await fake.user_taps(SOMCHAI, "Next")
