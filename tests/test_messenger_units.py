"""The Messenger channel's parts against the fake: the Graph client and its error mapping,
rendering within the capabilities, reading webhooks, the webhook route, and the platform under
`WindowedSender` (the window, partial sends, media uploaded once)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.channels.capabilities import MESSENGER
from bot.channels.delivery import (
    NotAllowed,
    PartlySent,
    Rejected,
    RetryLater,
    Transient,
    Unreachable,
)
from bot.channels.messenger.graph import MessengerGraph, read_answer
from bot.channels.messenger.incoming import message_key, read_message, sender_of, updates
from bot.channels.messenger.platform import OUTSIDE, MessengerPlatform
from bot.channels.messenger.render import render
from bot.channels.messenger.runner import REQUIRED, check_settings, configured
from bot.channels.messenger.webhook import add_webhook
from bot.channels.meta_webhook import signature
from bot.channels.signing import sign, verify
from bot.channels.window import WindowClosed, WindowedSender
from bot.config import Settings
from bot.engine import Say
from bot.engine.outputs import Button, Media
from bot.errors import ConfigError
from bot.store import LearnerStore, create_engine
from tests.fakemessenger import FakeMessenger

PSID, OTHER = "7234567890123456", "7234567890654321"
KEY = b"k" * 32
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def say(text: str, *labels: str) -> Say:
    return Say(text, tuple((Button(label, f"t{i}"),) for i, label in enumerate(labels)))


def payload(token: str) -> str:
    return sign(KEY, PSID, token)


# -- rendering -------------------------------------------------------------------------------


def test_up_to_13_choices_of_up_to_20_characters_are_quick_replies() -> None:
    labels = [f"Choice {i}" for i in range(12)] + ["x" * 20]
    [message] = render(say("<b>Pick</b> <i>one</i>", *labels), payload)
    assert message["text"] == "Pick one"  # Messenger shows plain text
    replies = message["quick_replies"]
    assert len(replies) == 13 == MESSENGER.buttons
    assert [r["title"] for r in replies] == labels
    assert all(r["content_type"] == "text" and len(r["payload"]) <= 1000 for r in replies)
    assert verify(KEY, PSID, replies[4]["payload"]) == "t4"
    assert verify(KEY, OTHER, replies[4]["payload"]) is None  # another learner's


@pytest.mark.parametrize(
    "labels", [[f"Choice {i}" for i in range(14)], ["Yes", "x" * 21]], ids=["14", "21 chars"]
)
def test_more_or_longer_choices_become_numbered_text(labels: list[str]) -> None:
    [message] = render(say("Pick", *labels), payload)
    assert "quick_replies" not in message
    lines = message["text"].splitlines()
    assert lines[0] == "Pick" and lines[2:] == [
        f"{i}. {label}" for i, label in enumerate(labels, 1)
    ]


def test_a_long_body_is_split_and_the_choices_go_with_the_last_part() -> None:
    body = " ".join(["kabuhayan"] * 500)  # 4,999 characters
    parts = render(say(body, "Sige", "Hindi"), payload)
    assert len(parts) == 3 and all(len(p["text"]) <= 2000 for p in parts)
    assert [bool(p.get("quick_replies")) for p in parts] == [False, False, True]
    assert " ".join(p["text"] for p in parts) == body
    assert render(say(""), payload) == []
    [empty] = render(say("", "Next"), payload)
    assert empty["text"] == "…"  # a message with quick replies needs text


def test_links_are_written_into_the_text() -> None:
    message = Say("Read more", ((Button("Site", "https://dti.gov.ph"), Button("Next", "n")),))
    [rendered] = render(message, payload)
    assert rendered["text"] == "Read more\n\nSite: https://dti.gov.ph"
    assert [r["title"] for r in rendered["quick_replies"]] == ["Next"]


# -- reading webhooks ------------------------------------------------------------------------


def envelope(*events: dict[str, Any], kind: str = "page") -> dict[str, Any]:
    return {
        "object": kind,
        "entry": [{"id": "104729301820933", "time": 1, "messaging": list(events)}],
    }


def event(psid: str = PSID, **content: Any) -> dict[str, Any]:
    return {"sender": {"id": psid}, "recipient": {"id": "104729301820933"},
            "timestamp": 1764756000000, **content}  # fmt: skip


def test_updates_keep_messages_postbacks_and_deliveries_and_drop_the_rest() -> None:
    body = envelope(
        event(message={"mid": "m_1", "text": "hi"}),
        event(message={"mid": "m_2", "text": "Oo", "quick_reply": {"payload": "t1~x"}}),
        event(postback={"mid": "m_3", "title": "Start", "payload": "t2~y"}),
        event(OTHER, delivery={"mids": ["m_out1"], "watermark": 1}),
        event(read={"watermark": 1}),
        event("104729301820933", message={"mid": "m_4", "text": "echo", "is_echo": True}),
        event(reaction={"reaction": "love", "mid": "m_1"}),
        {"sender": {}, "message": {"mid": "m_5", "text": "no sender"}},
    )
    found = updates(body)
    assert [key for key, _ in found][:3] == [message_key(m) for m in ("m_1", "m_2", "m_3")]
    assert len(found) == 4 and sender_of(found[3][1]) == OTHER
    assert updates(json.loads(json.dumps(body))) == found  # a redelivery: the same keys
    assert updates(envelope(event(message={"mid": "m_1"}), kind="instagram")) == []
    assert updates([1, 2]) == [] and updates({"object": "page", "entry": "x"}) == []
    assert all(len(key) <= 64 for key, _ in found)

    text, tapped, pressed = (read_message(update["event"]) for _, update in found[:3])
    assert (text.kind, text.text, text.sender) == ("text", "hi", PSID)
    assert text.sent_at == datetime.fromtimestamp(1764756000, UTC)
    assert (tapped.kind, tapped.text) == ("press", "t1~x")
    assert (pressed.kind, pressed.text, pressed.id) == ("press", "t2~y", "m_3")
    assert not pressed.page_button
    referral = {"ref": "digital-marketing", "type": "OPEN_THREAD"}
    started = read_message(
        event(postback={"mid": "m_7", "payload": "GET_STARTED", "referral": referral})
    )
    assert (started.page_button, started.ref) == (True, "digital-marketing")
    image = event(message={"mid": "m_6", "attachments": [{"type": "image", "payload": {}}]})
    assert read_message(image).kind == "media" and read_message(image).text == "image"


# -- the Graph client and its errors ---------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (400, {"code": 10, "error_subcode": 2018278}, WindowClosed),
        (400, {"code": 613}, RetryLater),
        (400, {"code": 4}, RetryLater),
        (400, {"code": 32}, RetryLater),
        (429, {"code": 9999}, RetryLater),
        (400, {"code": 551, "error_subcode": 1545041}, Unreachable),
        (403, {"code": 200, "error_subcode": 1545041}, Unreachable),
        (400, {"code": 100, "error_subcode": 2018001}, Unreachable),
        (500, {"code": 2}, Transient),
        (500, {"code": 1}, Transient),
        (503, {"code": 9999}, Transient),
        (400, {"code": 100}, Rejected),
        (400, {"code": 190}, Rejected),
        (403, {"code": 10, "error_subcode": 2018065}, Rejected),  # another permission
    ],
)
def test_graph_errors_map_to_delivery_errors(
    status: int, error: dict[str, Any], expected: type[Exception]
) -> None:
    with pytest.raises(expected):
        read_answer(status, json.dumps({"error": {"message": "m", **error}}))


def test_answers_that_are_not_graph_json_are_transient() -> None:
    with pytest.raises(Transient):
        read_answer(502, "<html><body>502 Bad Gateway</body></html>")
    with pytest.raises(Transient):
        read_answer(200, '{"recipient_id": "1", "mess')
    assert read_answer(200, '{"recipient_id": "1", "message_id": "m"}')["message_id"] == "m"
    with pytest.raises(RetryLater) as caught:
        read_answer(429, '{"error": {"code": 613}}', retry_after="30")
    assert caught.value.seconds == 30


@pytest.fixture
async def fake() -> AsyncIterator[FakeMessenger]:
    async with FakeMessenger() as server:
        yield server


@pytest.fixture
async def graph(fake: FakeMessenger) -> AsyncIterator[MessengerGraph]:
    client = MessengerGraph(fake.url, fake.page_token)
    yield client
    await client.close()


async def test_the_client_speaks_the_send_api(fake: FakeMessenger, graph: MessengerGraph) -> None:
    fake.wrote_at(PSID, fake.now())
    mid = await graph.send(PSID, {"text": "Kumusta"})
    assert fake.sent[-1].mid == mid and fake.sent[-1].messaging_type == "RESPONSE"
    assert fake.calls[-1].path == "/v23.0/me/messages"
    assert fake.calls[-1].query == {"access_token": fake.page_token}
    attachment_id = await graph.upload("image", "stall.png", PNG, "image/png")
    assert fake.uploads[-1].attachment_id == attachment_id and fake.uploads[-1].reusable
    await graph.mark_seen(PSID)
    assert fake.actions == [(PSID, "mark_seen")]
    fake.advance(hours=25)
    with pytest.raises(WindowClosed):
        await graph.send(PSID, {"text": "late"})
    fake.wrote_at(PSID, fake.now())
    fake.fail_next_raw(502, "<html>Bad Gateway</html>")
    with pytest.raises(Transient):
        await graph.send(PSID, {"text": "x"})
    fake.block(PSID)
    with pytest.raises(Unreachable):
        await graph.send(PSID, {"text": "x"})
    wrong = MessengerGraph(fake.url, "not-the-token")
    with pytest.raises(Rejected):
        await wrong.send(PSID, {"text": "x"})
    await wrong.close()
    dead = MessengerGraph("http://127.0.0.1:9", fake.page_token)  # nothing listens there
    with pytest.raises(Transient):
        await dead.send(PSID, {"text": "x"})
    await dead.close()


# -- the webhook route -----------------------------------------------------------------------


async def test_the_webhook_answers_the_handshake_checks_signatures_and_stores() -> None:
    stored: list[list[tuple[str, dict[str, Any]]]] = []
    failing = False

    async def store(found: list[tuple[str, dict[str, Any]]]) -> None:
        if failing:
            raise OSError("disk full")
        stored.append(found)

    app = web.Application()
    add_webhook(app, verify_token="verify-me", app_secret="secret", store=store)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/messenger"  # type: ignore[union-attr]
    body = json.dumps(envelope(event(message={"mid": "m_1", "text": "hi"}))).encode()
    try:
        async with aiohttp.ClientSession() as http:
            hub = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "42"}
            async with http.get(url, params=hub) as r:
                assert (r.status, await r.text()) == (200, "42")
            async with http.get(url, params={**hub, "hub.verify_token": "guess"}) as r:
                assert r.status == 403

            async def post(data: bytes, sig: str | None) -> int:
                headers = {"X-Hub-Signature-256": sig} if sig else {}
                async with http.post(url, data=data, headers=headers) as r:
                    return r.status

            assert await post(body, None) == 401
            assert await post(body, signature("other", body)) == 401
            assert stored == []
            assert await post(b"not json", signature("secret", b"not json")) == 400
            assert await post(body, signature("secret", body)) == 200
            assert [key for key, _ in stored[0]] == [message_key("m_1")]
            failing = True
            assert await post(body, signature("secret", body)) == 503  # Meta sends it again
    finally:
        await runner.cleanup()


# -- the runner's settings -------------------------------------------------------------------


def test_settings_name_every_missing_variable() -> None:
    settings = Settings(_env_file=None, messenger_page_token="t")
    assert configured(settings) and not configured(Settings(_env_file=None))
    with pytest.raises(ConfigError) as caught:
        check_settings(settings)
    assert "MESSENGER_APP_SECRET" in str(caught.value)
    assert "MESSENGER_VERIFY_TOKEN" in str(caught.value)
    assert "MESSENGER_PAGE_TOKEN is set, so Messenger is on" in str(caught.value)
    assert "MESSENGER_PAGE_TOKEN is not set" not in str(caught.value)
    assert set(REQUIRED) == {
        "MESSENGER_PAGE_TOKEN",
        "MESSENGER_APP_SECRET",
        "MESSENGER_VERIFY_TOKEN",
    }


# -- the platform under WindowedSender -------------------------------------------------------


@pytest.fixture
async def sender(
    fake: FakeMessenger, graph: MessengerGraph, database_url: str
) -> AsyncIterator[WindowedSender]:
    engine = create_engine(database_url)
    store = LearnerStore(engine)
    now = fake.now()
    platform = MessengerPlatform(graph, store, KEY, clock=lambda: now)
    yield WindowedSender(platform, store, KEY, "messenger", clock=lambda: now)
    await engine.dispose()


async def test_inside_the_window_replies_go_out_as_responses(
    fake: FakeMessenger, sender: WindowedSender
) -> None:
    fake.wrote_at(PSID, fake.now())
    sender.heard(PSID, fake.now())
    await sender.reply(PSID, [say("Kumusta!"), say("Handa ka na?", "Oo", "Hindi")])
    assert fake.texts_to(PSID) == ["Kumusta!", "Handa ka na?"]
    assert {s.messaging_type for s in fake.sent} == {"RESPONSE"}
    assert verify(KEY, PSID, fake.sent[-1].quick_replies[0]["payload"]) == "t0"


async def test_outside_the_window_nothing_is_sent(
    fake: FakeMessenger, sender: WindowedSender
) -> None:
    with pytest.raises(NotAllowed) as caught:  # never wrote
        await sender.send(PSID, "Bagong grant", [], None)
    assert str(caught.value) == OUTSIDE and "2026-02-10" in OUTSIDE
    sender.heard(PSID, fake.now() - timedelta(hours=25))
    with pytest.raises(NotAllowed):
        await sender.reply(PSID, [say("late")])
    assert fake.calls == []  # not even tried
    # Our clock says open; Meta's says closed (2018278): still nothing, and no retry.
    fake.wrote_at(PSID, fake.now() - timedelta(hours=25))
    sender.heard(PSID, fake.now() - timedelta(hours=23))
    with pytest.raises(NotAllowed):
        await sender.reply(PSID, [say("one"), say("two")])
    assert len(fake.calls) == 1 and fake.sent == []


async def test_a_failure_after_the_first_message_is_partly_sent(
    fake: FakeMessenger, sender: WindowedSender
) -> None:
    fake.wrote_at(PSID, fake.now())
    sender.heard(PSID, fake.now())
    fake.fail_next(613, times=1)
    with pytest.raises(RetryLater):
        await sender.reply(PSID, [say("one"), say("two")])
    fake.sent.clear()
    original = fake._take_fault

    def second_fails(target: Any, to: str | None) -> None:
        if len(fake.sent) == 1:
            fake.fail_next(2)
        original(target, to)

    fake._take_fault = second_fails  # type: ignore[method-assign]
    with pytest.raises(PartlySent) as caught:
        await sender.reply(PSID, [say("one"), say("two"), say("three")])
    assert caught.value.sent == 1 and isinstance(caught.value.cause, Transient)
    assert fake.texts_to(PSID) == ["one"]


async def test_media_is_uploaded_once_and_broadcast_photos_travel_once(
    fake: FakeMessenger, sender: WindowedSender, tmp_path: Path
) -> None:
    image = tmp_path / "stall.png"
    image.write_bytes(PNG)
    for psid in (PSID, OTHER):
        fake.wrote_at(psid, fake.now())
        sender.heard(psid, fake.now())
        await sender.reply(psid, [Say("Isang tindahan", media=Media("photo", str(image)))])
    assert len(fake.uploads) == 1
    assert [s.kind for s in fake.messages_to(OTHER)] == ["image", "text"]
    certificate = Media("document", "certificate-1.pdf", data=b"%PDF-1.4")
    await sender.reply(PSID, [Say("", media=certificate)])
    assert fake.uploads[-1].type == "file" and fake.messages_to(PSID)[-1].kind == "file"
    first = await sender.send(PSID, "Grant", [], image)
    again = await sender.send(OTHER, "Grant", [], image, first.photo_id)
    assert first.photo_id is not None and again.photo_id == first.photo_id
    assert len(fake.uploads) == 3  # the lesson image, the certificate, the broadcast photo
