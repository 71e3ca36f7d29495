"""The real aiogram and python-telegram-bot, over real HTTP, against the fake Bot API.

Every test runs once per framework: both adapters must give a learner the same bot.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.channels.runner import serve
from bot.config import Settings
from bot.store import Identity, LearnerStore, create_engine
from tests.databases import rows
from tests.fakebotapi import Call, FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-token-for-the-fake"
ANA = 1001

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("framework", ["aiogram", "ptb"])]


class Harness:
    def __init__(self, fake: FakeBotAPI, settings: Settings) -> None:
        self.fake = fake
        self.settings = settings
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(serve(self.settings))
        await self.until(lambda: self.fake.calls_of("setChatMenuButton"))

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def until(self, check: Callable[[], Any], timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.task is not None and self.task.done():
                self.task.result()  # surface a crash of the bot
            if result := check():
                return result
            await asyncio.sleep(0.02)
        raise AssertionError("timed out waiting for the bot")

    def texts(self, chat: int = ANA) -> list[str]:
        return [c.params.get("text", "") for c in self.fake.sent_messages(chat)]

    async def say(self, text: str, user: int = ANA, **kw: Any) -> list[Call]:
        """Send a message and wait until the bot has answered it (and gone quiet)."""
        return await self._await_reply(lambda: self.fake.push_text(user, text, **kw), user)

    async def begin(self, course: str = "", user: int = ANA) -> list[Call]:
        """First contact: /start (maybe a deep link), English, and past the notice."""
        await self.say(f"/start {course}".strip(), user)
        await self.press("English", user)
        return await self.press("▶️ Start learning", user)

    async def press(
        self, label: str, user: int = ANA, message: Call | None = None, data: str | None = None
    ) -> list[Call]:
        """Press the button `label` of the latest message with a keyboard (or of `message`)."""
        message = message or self.last_keyboard(user)
        if data is None:
            data = next(
                b["callback_data"]
                for row in keyboard(message)
                for b in row
                if b["text"].startswith(label)
            )
        mid = message_id(message)
        return await self._await_reply(lambda: self.fake.push_callback(user, data, mid), user)

    def last_keyboard(self, user: int = ANA) -> Call:
        return next(c for c in reversed(self.fake.sent_messages(user)) if keyboard(c))

    async def _await_reply(self, push: Callable[[], Any], user: int) -> list[Call]:
        before = len(self.fake.sent_messages(user))
        push()
        await self.until(lambda: len(self.fake.sent_messages(user)) > before)
        await self.quiet(user)
        return self.fake.sent_messages(user)[before:]

    async def quiet(self, user: int, settle: float = 0.3) -> None:
        """Wait until the bot has made no call but polling for `settle` seconds."""

        def busy() -> int:
            return sum(c.method != "getUpdates" for c in self.fake.calls)

        count = -1
        while count != busy():
            count = busy()
            await asyncio.sleep(settle)


def keyboard(call: Call) -> list[list[dict[str, Any]]]:
    markup = call.params.get("reply_markup") or {}
    return list(markup.get("inline_keyboard", []))


def message_id(call: Call) -> int:
    return int(call.result["message_id"])


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(max_poll_wait=0.2) as server:
        yield server


def settings_for(
    fake: FakeBotAPI, database_url: str, framework: str, lessons: Path = ROOT / "lessons"
) -> Settings:
    """Polling `framework` against `fake`, on `database_url`, serving `lessons`."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        bot_token=TOKEN,
        telegram_api_url=fake.url,
        telegram_framework=framework,
        database_url=database_url,
        lessons_dir=str(lessons),
        locales_dir=str(ROOT / "locales"),
        webhook_url="",
        webhook_secret="",
    )


@pytest.fixture
def settings(fake: FakeBotAPI, database_url: str, framework: str) -> Settings:
    return settings_for(fake, database_url, framework)


@pytest.fixture
async def bot(fake: FakeBotAPI, settings: Settings) -> AsyncIterator[Harness]:
    harness = Harness(fake, settings)
    await harness.start()
    yield harness
    await harness.stop()


async def status_of(settings: Settings, user: int) -> str | None:
    engine = create_engine(settings.database_url)
    try:
        return await LearnerStore(engine).status_of(Identity("telegram", str(user)))
    finally:
        await engine.dispose()


SAFETY_PATH = [
    "Show me",
    "Next",
    "Next",
    "Don't send; call",
    "Ignored it",
    "Next",
    "Next",
    "Don't click",
    "5",
]


async def test_setup_registers_commands_and_menu(bot: Harness) -> None:
    commands = bot.fake.calls_of("setMyCommands")
    assert commands and {c["command"] for c in commands[0].params["commands"]} >= {
        "start",
        "continue",
        "menu",
        "progress",
        "language",
        "help",
    }
    assert await bot.until(lambda: bot.fake.calls_of("deleteWebhook"))  # polling


async def test_whole_lesson_with_quiz_to_completion(bot: Harness) -> None:
    replies = await bot.say("/start")
    assert "ไทย" in replies[0].params["text"]  # every language, named in its own script
    replies = await bot.press("English")
    assert "I keep your progress" in replies[0].params["text"]
    replies = await bot.press("More about this")
    assert "What we keep and why" in replies[0].params["text"]
    replies = await bot.press("▶️ Start learning")
    assert "Our courses" in replies[-1].params["text"]
    replies = await bot.press("Stay safe online")
    assert bot.fake.calls_of("answerCallbackQuery")
    cleared = bot.fake.calls_of("editMessageReplyMarkup")
    assert cleared and not cleared[-1].params.get("reply_markup")
    assert "Spot the scam" in replies[0].params["text"]
    for label in SAFETY_PATH[:3]:
        await bot.press(label)
    wrong = await bot.press("Send it")  # a wrong answer: feedback, and the question again
    assert "Not quite" in wrong[0].params["text"]
    for label in SAFETY_PATH[3:]:
        await bot.press(label)
    assert any("Well done" in t for t in bot.texts())
    assert any("Quiz: 1 of 2 right first time." in t for t in bot.texts())


async def test_resume_after_restart(bot: Harness) -> None:
    await bot.begin("online-safety")
    await bot.press("Show me")
    await bot.press("Next")
    step = bot.texts()[-1]
    await bot.stop()
    bot.fake.clear_calls()
    await bot.start()
    replies = await bot.say("/continue")
    assert replies[-1].params["text"] == step


async def test_stale_forged_and_borrowed_buttons_never_move_the_learner(bot: Harness) -> None:
    await bot.begin("online-safety")
    first = bot.last_keyboard()
    await bot.press("Show me")
    current = bot.texts()[-1]
    stale = await bot.press("Show me", message=first)
    assert "earlier message" in stale[0].params["text"]
    assert stale[-1].params["text"] == current
    forged = await bot.press("", message=bot.last_keyboard(), data="o:AAAAAAAA:BBBB:n:CCCC~xx")
    assert "earlier message" in forged[0].params["text"]
    # Another learner replays Ana's valid button: refused, and Ana's state is untouched.
    await bot.begin("online-safety", user=2002)
    borrowed = keyboard(bot.last_keyboard())[0][0]["callback_data"]
    other = await bot.press("", user=2002, message=bot.last_keyboard(2002), data=borrowed)
    assert "earlier message" in other[0].params["text"]
    replies = await bot.say("/continue")
    assert replies[-1].params["text"] == current


async def test_double_press_moves_once(bot: Harness) -> None:
    await bot.begin("online-safety")
    message = bot.last_keyboard()
    data = keyboard(message)[0][0]["callback_data"]
    before = len(bot.fake.sent_messages(ANA))
    bot.fake.push_callback(ANA, data, message_id(message))
    bot.fake.push_callback(ANA, data, message_id(message))
    await bot.until(lambda: len(bot.fake.sent_messages(ANA)) >= before + 3)
    await bot.quiet(ANA)
    texts = bot.texts()[before:]
    assert sum("earlier message" in t for t in texts) == 1
    assert sum(t.startswith("<b>Three common tricks</b>") for t in texts) == 2  # step + re-show


async def test_stickers_voice_and_edits_get_a_friendly_reply(bot: Harness) -> None:
    await bot.begin()
    for extra in (
        {
            "sticker": {
                "file_id": "s",
                "file_unique_id": "s",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        },
        {"voice": {"file_id": "v", "file_unique_id": "v", "duration": 2}},
        {"location": {"latitude": 1.0, "longitude": 2.0}},
    ):
        before = len(bot.fake.sent_messages(ANA))
        update = bot.fake.make_message(ANA, "")
        update["message"].pop("text")
        update["message"].pop("entities", None)
        update["message"].update(extra)
        bot.fake.push_update(update)
        await bot.until(lambda b=before: len(bot.fake.sent_messages(ANA)) > b)
        assert "only read text" in bot.texts()[-1]


async def test_group_chat_points_to_private_chat(bot: Harness) -> None:
    bot.fake.push_text(ANA, "/start", chat_id=-100123)
    group = await bot.until(lambda: bot.fake.sent_messages(-100123))
    await bot.quiet(ANA)
    assert "private chat" in group[0].params["text"]
    assert "https://t.me/lessonbot_test_bot" in group[0].params["text"]
    assert not bot.fake.sent_messages(ANA)  # no lesson started in the group


async def test_429_storm_is_waited_out(bot: Harness) -> None:
    await bot.begin()
    bot.fake.fail_next("sendMessage", 429, retry_after=1, times=2)
    started = time.monotonic()
    replies = await bot.press("Stay safe online")
    assert time.monotonic() - started >= 2  # both pauses honoured
    assert "Spot the scam" in replies[0].params["text"]
    failed = [c for c in bot.fake.calls_of("sendMessage") if c.status == 429]
    assert len(failed) == 2


async def test_5xx_is_retried(bot: Harness) -> None:
    await bot.begin()
    bot.fake.fail_next("sendMessage", 502, "Bad Gateway", times=2)
    replies = await bot.press("Stay safe online")
    assert "Spot the scam" in replies[0].params["text"]


async def test_blocked_learner_is_marked_and_not_retried(bot: Harness, settings: Settings) -> None:
    await bot.begin()
    bot.fake.block_chat(ANA)
    bot.fake.push_text(ANA, "/menu")
    await bot.until(lambda: [c for c in bot.fake.calls_of("sendMessage") if c.status == 403])
    await bot.quiet(ANA)
    assert len([c for c in bot.fake.calls_of("sendMessage") if c.status == 403]) == 1
    assert await status_of(settings, ANA) == "blocked"
    bot.fake.unblock_chat(ANA)
    await bot.say("/menu")
    assert await status_of(settings, ANA) == "active"


async def test_my_chat_member_marks_blocked_and_back(bot: Harness, settings: Settings) -> None:
    await bot.begin()

    def member(status: str, chat: dict[str, Any] | None = None) -> dict[str, Any]:
        user = {"id": ANA, "is_bot": False, "first_name": "Ana"}
        return {
            "my_chat_member": {
                "chat": chat or {"id": ANA, "type": "private", "first_name": "Ana"},
                "from": user,
                "date": int(time.time()),
                "old_chat_member": {
                    "status": "member",
                    "user": {"id": 1, "is_bot": True, "first_name": "LessonBot"},
                },
                "new_chat_member": {
                    "status": status,
                    "user": {"id": 1, "is_bot": True, "first_name": "LessonBot"},
                    **({"until_date": 0} if status == "kicked" else {}),
                },
            }
        }

    async def becomes(status: str) -> str | None:
        for _ in range(100):
            if (found := await status_of(settings, ANA)) == status:
                return found
            await asyncio.sleep(0.05)
        return await status_of(settings, ANA)

    bot.fake.push_update(member("kicked"))
    assert await becomes("blocked") == "blocked"
    bot.fake.push_update(member("member"))
    assert await becomes("active") == "active"

    # Ana removes the bot from her shop's group: she can still be reached in private.
    group = {"id": -100777, "type": "supergroup", "title": "Shop"}
    key = f"telegram:{bot.fake.push_update(member('left', group))['update_id']}"
    query = "SELECT status FROM inbox WHERE key = :key"
    for _ in range(200):
        if await rows(settings.database_url, query, key=key) == [("done",)]:
            break
        await asyncio.sleep(0.05)
    assert await rows(settings.database_url, query, key=key) == [("done",)]
    assert await status_of(settings, ANA) == "active"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_mode_checks_the_secret(fake: FakeBotAPI, settings: Settings) -> None:
    port = free_port()
    hooked = settings.model_copy(
        update={
            "webhook_url": f"http://127.0.0.1:{port}/tg/hook",
            "webhook_secret": "s3cret-e2e-webhook-token",
            "port": port,
        }
    )
    harness = Harness(fake, hooked)
    await harness.start()
    try:
        hooks = await harness.until(lambda: fake.calls_of("setWebhook"))
        assert hooks[0].params["secret_token"] == "s3cret-e2e-webhook-token"
        url = f"http://127.0.0.1:{port}/tg/hook"
        update = fake.make_message(ANA, "/start")
        update["update_id"] = 777
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # the server starts listening right after setWebhook
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        break
                await asyncio.sleep(0.05)
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, json=update, headers=headers) as response:
                    assert response.status == 401
            assert not fake.sent_messages(ANA)
            right = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-e2e-webhook-token"}
            for _ in range(2):  # the same update delivered twice is handled once
                async with http.post(url, json=update, headers=right) as response:
                    assert response.status == 200
            async with http.post(url, data=b"not json", headers=right) as response:
                assert response.status == 400
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
        # Telegram got its 200 once the update was stored; the reply follows from the inbox.
        await harness.until(lambda: fake.sent_messages(ANA))
        await harness.quiet(ANA)
        assert len(fake.sent_messages(ANA)) == 1
        assert "English" in fake.sent_messages(ANA)[0].params["text"]  # language question
    finally:
        await harness.stop()


async def test_killed_process_resumes_without_doubling(
    fake: FakeBotAPI, settings: Settings, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.url,
        "TELEGRAM_FRAMEWORK": settings.telegram_framework,
        "DATABASE_URL": settings.database_url,
        "LESSONS_DIR": settings.lessons_dir,
        "LOCALES_DIR": settings.locales_dir,
        "WEBHOOK_URL": "",
    }

    async def launch() -> asyncio.subprocess.Process:
        fake.clear_calls()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path
        )
        await harness.until(lambda: fake.calls_of("setChatMenuButton"), timeout=60)
        return proc

    harness = Harness(fake, settings)
    proc = await launch()
    await harness.begin("online-safety")
    await harness.press("Show me")
    step = harness.texts()[-1]
    proc.kill()  # SIGKILL: no cleanup, no acknowledgement of the last updates
    await proc.wait()
    proc = await launch()
    await harness.quiet(ANA, settle=1.0)
    assert not fake.sent_messages(ANA)  # redelivered updates were not handled again
    replies = await harness.say("/continue")
    assert replies[-1].params["text"] == step
    proc.terminate()  # SIGTERM, as a platform sends on deploy: a clean exit
    assert await proc.wait() == 0


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


async def test_media_is_uploaded_once(fake: FakeBotAPI, settings: Settings, tmp_path: Path) -> None:
    course = tmp_path / "lessons" / "demo"
    (course / "media").mkdir(parents=True)
    (course / "media" / "stall.png").write_bytes(PNG)
    (course / "course.yaml").write_text(
        "version: 1\nkind: course\nid: demo\ntitle: Demo\ndescription: d\nlessons: [pic]\n"
    )
    (course / "01-pic.yaml").write_text(
        "version: 1\nkind: lesson\nid: pic\ntitle: Pic\nminutes: 1\nsteps:\n"
        "  - {id: look, type: message, text: A stall, image: media/stall.png}\n"
        "  - {id: done, type: end, text: Bye}\n"
    )
    harness = Harness(fake, settings.model_copy(update={"lessons_dir": str(tmp_path / "lessons")}))
    await harness.start()
    try:
        for user in (ANA, 2002):
            before = len(fake.calls_of("sendPhoto"))
            await harness.begin("demo", user)
            await harness.until(lambda b=before: len(fake.calls_of("sendPhoto")) > b)
        first, second = fake.calls_of("sendPhoto")
        assert first.files and first.files[0].size == len(PNG)  # uploaded
        assert not second.files and isinstance(second.params["photo"], str)  # reused file_id
        assert second.params["photo"] == first.result["photo"][-1]["file_id"]
    finally:
        await harness.stop()


async def test_slow_api_does_not_hold_up_other_learners(bot: Harness) -> None:
    bot.fake.delay(0.5)
    users = [3001, 3002, 3003, 3004]
    for user in users:
        bot.fake.push_text(user, "/start")
    await bot.until(lambda: all(bot.fake.sent_messages(u) for u in users))
    starts = sorted(bot.fake.sent_messages(u)[0].time for u in users)
    # Served one after another, the last reply would start 1.5 s after the first.
    assert starts[-1] - starts[0] < 0.5


async def test_admin_broadcast_in_telegram(
    fake: FakeBotAPI, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "broadcasts"
    folder.mkdir()
    (folder / "alert.yaml").write_text(
        "version: 1\nkind: broadcast\nid: alert\nurgent: true\n"
        "text: {en: 'Scam alert, {first_name}!', th: 'ระวัง {first_name}!'}\n"
    )
    harness = Harness(
        fake, settings.model_copy(update={"admin_ids": str(ANA), "broadcasts_dir": str(folder)})
    )
    await harness.start()
    try:
        learner = 2002
        await harness.begin(user=learner)
        refused = await harness.say("/broadcast", user=learner)
        assert "I don't know that command." in refused[0].params["text"]
        await harness.begin()
        picked = await harness.say("/broadcast")
        assert keyboard(picked[-1])[0][0]["text"] == "alert"
        preview = await harness.press("alert")
        texts = [c.params["text"] for c in preview]
        assert "reaches 2 learner(s)" in texts[0]
        assert any("ระวัง Test!" in t for t in texts) and any(
            "Scam alert, Test!" in t for t in texts
        )
        queued = await harness.press("✅ Send")
        assert "is queued now for 2 learner(s)" in queued[0].params["text"]
        got = await harness.until(
            lambda: [c for c in fake.sent_messages(learner) if "Scam alert" in c.params["text"]]
        )
        assert len(got) == 1
        summary = await harness.until(
            lambda: [c for c in fake.sent_messages(ANA) if "is done" in c.params["text"]]
        )
        assert "Sent: 2" in summary[0].params["text"]
        refused = await harness.say("/stats", user=learner)
        assert "I don't know that command." in refused[0].params["text"]
        stats = await harness.say("/stats")
        assert "Learners: <b>2</b>" in stats[0].params["text"]
    finally:
        await harness.stop()


async def test_admin_writes_and_schedules_a_broadcast(
    fake: FakeBotAPI, settings: Settings, tmp_path: Path
) -> None:
    harness = Harness(
        fake,
        settings.model_copy(
            update={"admin_ids": str(ANA), "broadcasts_dir": str(tmp_path / "none")}
        ),
    )
    await harness.start()
    try:
        await harness.begin(user=2002)
        await harness.begin()
        await harness.say("/broadcast")
        await harness.press("✍️ Write a new one")
        broken = await harness.say("Market day <b>tomorrow")
        assert "can't be sent" in broken[0].params["text"]
        ask = await harness.say("Market day <b>tomorrow</b>, {first_name}!")
        assert "Who should get it?" in ask[0].params["text"]
        preview = await harness.press("Everyone")
        texts = [c.params["text"] for c in preview]
        assert "reaches 2 learner(s)" in texts[0]
        assert any("Market day <b>tomorrow</b>, Test!" in t for t in texts)
        queued = await harness.press("⏰ At 09:00")
        assert "09:00 in each learner's own time" in queued[0].params["text"]
        await harness.quiet(2002)
        assert not [c for c in fake.sent_messages(2002) if "Market day" in c.params["text"]]
        status = await harness.say("/broadcasts")
        assert "chat-" in status[0].params["text"] and "0/2 sent" in status[0].params["text"]
    finally:
        await harness.stop()
