"""The WhatsApp channel's pure parts: rendering within the capabilities, reading webhooks and
Graph API answers, and the calling-code guess. No I/O; the end-to-end suite drives the rest."""

from __future__ import annotations

import pytest

from bot.channels import plain
from bot.channels.capabilities import TELEGRAM, WHATSAPP
from bot.channels.delivery import Rejected, RetryLater, Transient, Unreachable
from bot.channels.whatsapp.graph import WindowClosed, read_answer
from bot.channels.whatsapp.incoming import message_key, read_message, sender_of, updates
from bot.channels.whatsapp.phone import country_of
from bot.channels.whatsapp.render import render
from bot.engine import Say
from bot.engine.outputs import Button


def ids(token: str) -> str:
    return f"id-{token}"


def say(text: str, *labels: str) -> Say:
    return Say(text, tuple((Button(label, f"t{i}"),) for i, label in enumerate(labels)))


def test_up_to_three_choices_are_reply_buttons() -> None:
    [message] = render(say("<b>Ready?</b>", "Yes", "No", "Later"), ids)
    interactive = message["interactive"]
    assert interactive["type"] == "button"
    assert interactive["body"]["text"] == "*Ready?*"
    assert [b["reply"] for b in interactive["action"]["buttons"]] == [
        {"id": "id-t0", "title": "Yes"},
        {"id": "id-t1", "title": "No"},
        {"id": "id-t2", "title": "Later"},
    ]


def test_four_to_ten_choices_are_a_list_and_a_long_label_is_whole_in_its_description() -> None:
    labels = [f"Option {i}" for i in range(9)] + ["A label that is longer than twenty-four"]
    [message] = render(say("Pick one", *labels), ids)
    interactive = message["interactive"]
    assert interactive["type"] == "list"
    rows = interactive["action"]["sections"][0]["rows"]
    assert len(rows) == 10
    assert all(len(row["title"]) <= 24 for row in rows)
    assert rows[-1]["title"].endswith("…")
    assert rows[-1]["description"] == labels[-1]
    assert "description" not in rows[0]
    assert len(interactive["action"]["button"]) <= 20


def test_two_choices_too_long_for_buttons_become_a_list() -> None:
    [message] = render(say("Which?", "Twenty-one characters", "Short"), ids)
    assert message["interactive"]["type"] == "list"


def test_more_than_ten_choices_are_numbered_text_in_the_prompts_order() -> None:
    labels = [f"Country {i}" for i in range(11)]
    [message] = render(say("Where?", *labels), ids)
    assert message["type"] == "text"
    body = message["text"]["body"]
    assert body.startswith("Where?\n\n1. Country 0\n2. Country 1")
    assert body.endswith("11. Country 10")


def test_a_long_step_is_split_and_its_choices_go_with_the_last_part() -> None:
    paragraph = "word " * 150  # 750 characters
    text = "\n\n".join([paragraph.strip()] * 3)  # over 1,024 characters in all
    messages = render(say(text, "Next"), ids)
    assert [m["type"] for m in messages] == ["text", "interactive"]
    assert len(messages[-1]["interactive"]["body"]["text"]) <= WHATSAPP.interactive_chars
    assert all(len(m["text"]["body"]) <= WHATSAPP.text_chars for m in messages[:-1])
    shown = messages[0]["text"]["body"] + messages[1]["interactive"]["body"]["text"]
    assert shown.replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")


def test_plain_split_breaks_between_words_and_keeps_every_character() -> None:
    text = " ".join(f"w{i}" for i in range(2000))
    parts = plain.split(text, 4096, 1024)
    assert len(parts[-1]) <= 1024
    assert all(len(p) <= 4096 for p in parts)
    assert " ".join(parts).split() == text.split()


def test_html_becomes_whatsapp_markup_and_links_keep_their_address() -> None:
    html = (
        "<b>Bold</b> <i>it</i> <s>old</s> <code>x</code> &amp; "
        '<a href="https://sbcorp.gov.ph">SB Corp</a> <a href="https://a.org">https://a.org</a>'
    )
    assert plain.flatten(html, plain.WHATSAPP) == (
        "*Bold* _it_ ~old~ ```x``` & SB Corp (https://sbcorp.gov.ph) https://a.org"
    )
    assert plain.flatten("<blockquote>a\nb</blockquote>", plain.WHATSAPP) == "> a\n> b"


def test_capability_forms() -> None:
    assert WHATSAPP.form(3, 20) == "buttons"
    assert WHATSAPP.form(4, 10) == "list"
    assert WHATSAPP.form(2, 90) == "list"
    assert WHATSAPP.form(2, 97) == "numbered"
    assert WHATSAPP.form(11, 5) == "numbered"
    assert TELEGRAM.form(12, 30) == "buttons"


def notification(*messages: dict, statuses: tuple[dict, ...] = (), phone: str = "123") -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone},
        "contacts": [{"profile": {"name": "Siti"}, "wa_id": "6281234567890"}],
        "messages": list(messages),
        "statuses": list(statuses),
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "waba", "changes": [{"field": "messages", "value": value}]}],
    }


TEXT = {
    "from": "6281234567890",
    "id": "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjBDNzE5RjI1QjY0QjY1MjQ0AA==",
    "timestamp": "1764676800",
    "type": "text",
    "text": {"body": "halo"},
}


def test_a_notification_is_cut_into_keyed_updates_for_our_number_only() -> None:
    status = {"id": "wamid.x", "status": "delivered", "recipient_id": "6281234567890"}
    found = updates(notification(TEXT, statuses=(status,)), "123")
    assert [key for key, _ in found] == [
        message_key(TEXT["id"]),
        found[1][0],
    ]
    assert all(len(key) <= 64 for key, _ in found)
    assert found[0][1] == {"message": TEXT, "name": "Siti"}
    assert sender_of(found[0][1]) == sender_of(found[1][1]) == "6281234567890"
    assert updates(notification(TEXT), "999") == []  # another number of the same app
    assert updates({"entry": "nonsense"}, "123") == []
    assert updates([1, 2], "123") == []


def test_the_same_message_is_the_same_key_and_a_status_of_it_another() -> None:
    first = updates(notification(TEXT), "123")
    again = updates(notification(TEXT), "123")
    assert first == again
    read = {"id": TEXT["id"], "status": "read", "recipient_id": "1"}
    delivered = {"id": TEXT["id"], "status": "delivered", "recipient_id": "1"}
    keys = {k for k, _ in updates(notification(statuses=(read, delivered)), "123")}
    assert len(keys) == 2 and message_key(TEXT["id"]) not in keys


@pytest.mark.parametrize(
    ("message", "kind", "text"),
    [
        (TEXT, "text", "halo"),
        (
            TEXT
            | {
                "type": "interactive",
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": "abc", "title": "Yes"},
                },
            },
            "reply",
            "abc",
        ),
        (
            TEXT
            | {
                "type": "interactive",
                "interactive": {"type": "list_reply", "list_reply": {"id": "row", "title": "T"}},
            },
            "reply",
            "row",
        ),
        (
            TEXT | {"type": "button", "button": {"payload": "p", "text": "Continue"}},
            "text",
            "Continue",
        ),
        (TEXT | {"type": "image", "image": {"id": "m"}}, "media", "image"),
        (TEXT | {"type": "reaction", "reaction": {"emoji": "👍"}}, "ignored", ""),
        (TEXT | {"type": "unsupported"}, "other", "unsupported"),
    ],
)
def test_messages_are_read_by_type(message: dict, kind: str, text: str) -> None:
    read = read_message({"message": message, "name": "Siti\x00"})
    assert (read.kind, read.text, read.sender, read.name) == (kind, text, "6281234567890", "Siti")


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, '{"error": {"code": 130429, "message": "Rate limit hit"}}', RetryLater),
        (400, '{"error": {"code": 131056, "message": "pair rate"}}', RetryLater),
        (429, '{"error": {"code": 0}}', RetryLater),
        (400, '{"error": {"code": 131047, "message": "Re-engagement message"}}', WindowClosed),
        (400, '{"error": {"code": 131026, "message": "Message undeliverable"}}', Unreachable),
        (500, '{"error": {"code": 131000, "message": "Something went wrong"}}', Transient),
        (502, "<html><body>Bad gateway</body></html>", Transient),
        (200, "not json", Transient),
        (400, '{"error": {"code": 132001, "message": "Template does not exist"}}', Rejected),
        (401, '{"error": {"code": 190, "message": "Invalid OAuth access token"}}', Rejected),
    ],
)
def test_graph_answers_become_delivery_errors(status: int, body: str, error: type) -> None:
    with pytest.raises(error):
        read_answer(status, body)


def test_graph_success() -> None:
    assert read_answer(200, '{"messages": [{"id": "wamid.1"}]}') == {
        "messages": [{"id": "wamid.1"}]
    }


@pytest.mark.parametrize(
    ("wa_id", "country"),
    [
        ("6281234567890", "ID"),
        ("60123456789", "MY"),
        ("6591234567", "SG"),
        ("66812345678", "TH"),
        ("639171234567", "PH"),
        ("84912345678", "VN"),
        ("85512345678", "KH"),
        ("8562012345678", "LA"),
        ("959123456789", "MM"),
        ("6738123456", "BN"),
        ("14155550100", ""),
    ],
)
def test_the_calling_code_guesses_the_country(wa_id: str, country: str) -> None:
    assert country_of(wa_id) == country
