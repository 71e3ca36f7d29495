"""The fake Bot API, driven by real aiogram / python-telegram-bot / aiohttp clients."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
import telegram
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from tests.fakebotapi import FakeBotAPI, UploadedFile

pytestmark = pytest.mark.asyncio

TOKEN = "123456:TEST-token"


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(max_poll_wait=0.2) as api:
        yield api


@pytest_asyncio.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.url))
    async with Bot(TOKEN, session=session) as b:  # closes the session on exit
        yield b


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_aiogram_get_me_and_send_with_keyboard(fake: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "lessonbot_test_bot")

    button = InlineKeyboardButton(text="Next", callback_data="lesson:2")
    kb = InlineKeyboardMarkup(inline_keyboard=[[button]])
    msg = await bot.send_message(42, "<b>Hi</b> &amp; welcome", parse_mode="HTML", reply_markup=kb)
    assert msg.text == "Hi & welcome" and msg.chat.id == 42 and msg.message_id == 1
    assert msg.reply_markup is not None and msg.reply_markup.model_dump() == kb.model_dump()
    (call,) = fake.sent_messages(chat_id=42)
    assert call.params["chat_id"] == 42
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "lesson:2"
    assert (await bot.send_message(42, "again")).message_id == 2


async def test_aiogram_upload_photo_and_edit(fake: FakeBotAPI, bot: Bot) -> None:
    msg = await bot.send_photo(7, BufferedInputFile(b"x" * 300, "pic.png"), caption="cap")
    assert msg.photo is not None and msg.caption == "cap"
    photo = fake.calls_of("sendphoto")[0].params["photo"]
    assert isinstance(photo, UploadedFile) and (photo.filename, photo.size) == ("pic.png", 300)
    again = await bot.send_photo(7, msg.photo[-1].file_id)  # re-send by file_id
    assert again.photo is not None and again.photo[-1].file_id == msg.photo[-1].file_id

    sent = await bot.send_message(7, "v1")
    edited = await bot.edit_message_text("v2", chat_id=7, message_id=sent.message_id)
    assert not isinstance(edited, bool) and edited.text == "v2"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("v2", chat_id=7, message_id=sent.message_id)


async def test_aiogram_faults(fake: FakeBotAPI, bot: Bot) -> None:
    fake.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as exc:
        await bot.send_message(1, "hi")
    assert exc.value.retry_after == 7
    await bot.send_message(1, "hi")  # fault consumed
    assert [c.status for c in fake.calls_of("sendMessage")] == [429, 200]

    fake.block_chat(99)
    with pytest.raises(TelegramForbiddenError, match="blocked"):
        await bot.send_message(99, "hi")
    fake.chat_not_found(98)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(98, "hi")
    assert fake.sent_messages(99) == [] and fake.calls_of("sendMessage")[-2].status == 403


async def test_ptb_bot(fake: FakeBotAPI) -> None:
    async with telegram.Bot(TOKEN, base_url=fake.url + "/bot") as bot:
        assert bot.username == "lessonbot_test_bot"  # initialize() called getMe
        button = telegram.InlineKeyboardButton("Go", callback_data="go")
        kb = telegram.InlineKeyboardMarkup([[button]])
        msg = await bot.send_message(42, "hello from ptb", reply_markup=kb)
        assert msg.text == "hello from ptb" and msg.reply_markup == kb
        doc = await bot.send_document(42, b"%PDF-1.4 data", filename="notes.pdf")
        assert doc.document is not None and doc.document.file_name == "notes.pdf"
        # ptb capitalises the description it raises
        with pytest.raises(telegram.error.BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(42, "x" * 4097)
    uploaded = fake.calls_of("sendDocument")[0].params["document"]
    assert isinstance(uploaded, UploadedFile) and uploaded.size == 13
    assert [c.params["chat_id"] for c in fake.sent_messages()] == [42, 42]


async def test_raw_json_and_form(fake: FakeBotAPI, http: aiohttp.ClientSession) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    api = f"{fake.url}/bot{TOKEN}"
    async with http.post(f"{api}/sendMessage", json={"chat_id": 5, "text": "json"}) as r:
        assert r.status == 200 and (await r.json())["result"]["text"] == "json"
    form = {"chat_id": "5", "text": "form", "reply_markup": json.dumps(markup)}
    async with http.post(f"{api}/SENDMESSAGE", data=form) as r:
        assert r.status == 200 and (await r.json())["result"]["reply_markup"] == markup
    last = fake.calls[-1]
    assert last.method == "sendMessage" and last.params["reply_markup"] == markup
    async with http.get(f"{api}/getWebhookInfo") as r:
        assert (await r.json())["result"]["url"] == ""
    async with http.post(f"{api}/sendMessage", json={"chat_id": 5}) as r:
        body = await r.json()
        assert r.status == 400 and body["description"].startswith("Bad Request: text")
    async with http.post(f"{api}/noSuchMethod") as r:
        assert r.status == 404 and (await r.json())["description"] == "Not Found"
    async with http.get(f"{fake.url}/file/bot{TOKEN}/photos/x.jpg") as r:
        assert r.status == 404


@pytest.mark.parametrize(
    ("text", "parse_mode", "ok"),
    [
        ("x" * 4096, None, True),
        ("x" * 4097, None, False),
        ("<b>" + "x" * 4096 + "</b>", "HTML", True),  # tags do not count
        ("&lt;" * 4096, "HTML", True),  # entities count as one character
        ("&lt;" * 4097, "HTML", False),
    ],
)
async def test_text_length(bot: Bot, text: str, parse_mode: str | None, ok: bool) -> None:
    if ok:
        await bot.send_message(1, text, parse_mode=parse_mode)
    else:
        with pytest.raises(TelegramBadRequest, match="message is too long"):
            await bot.send_message(1, text, parse_mode=parse_mode)


async def test_caption_and_html_errors(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(1, "FILEID", caption="c" * 1025)
    for bad in ("<b>unclosed", "<b><i>x</b></i>", "a < b", "line<br>break"):
        with pytest.raises(TelegramBadRequest, match="can't parse entities"):
            await bot.send_message(1, bad, parse_mode="HTML")
    await bot.send_message(1, 'ok <a href="https://x.y">l</a> <tg-spoiler>s</tg-spoiler> a < b')


async def test_callback_data_too_long(fake: FakeBotAPI, bot: Bot) -> None:
    def markup(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="a", callback_data=data)]]
        )

    await bot.send_message(1, "fits: 64 bytes", reply_markup=markup("é" * 32))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(1, "65 bytes", reply_markup=markup("é" * 32 + "x"))
    assert fake.calls[-1].status == 400


async def test_get_updates(fake: FakeBotAPI, bot: Bot) -> None:
    assert await bot.get_updates(timeout=5) == []  # long-poll capped by max_poll_wait
    first = fake.push_text(42, "/start")
    second = fake.push_callback(42, "lesson:1", message_id=1)
    assert second["update_id"] == first["update_id"] + 1

    updates = await bot.get_updates(timeout=1)
    assert [u.update_id for u in updates] == [first["update_id"], second["update_id"]]
    assert updates[0].message is not None and updates[0].message.text == "/start"
    assert updates[1].callback_query is not None and updates[1].callback_query.data == "lesson:1"

    rest = await bot.get_updates(offset=second["update_id"], limit=10)
    assert [u.update_id for u in rest] == [second["update_id"]]
    assert await bot.get_updates(offset=second["update_id"] + 1) == []


async def test_ptb_get_updates_wakes_on_push(fake: FakeBotAPI) -> None:
    import asyncio

    fake.max_poll_wait = 5.0
    async with telegram.Bot(TOKEN, base_url=fake.url + "/bot") as bot:
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, fake.push_text, 7, "/help")
        started = loop.time()
        updates = await bot.get_updates(timeout=5)
        assert loop.time() - started < 2
        assert updates[0].message is not None and updates[0].message.text == "/help"
        assert updates[0].message.entities[0].type == "bot_command"
