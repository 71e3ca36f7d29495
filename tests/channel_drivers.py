"""One learner, driven the same way on every channel: a real `lessonbot run` against a fake.

A `Driver` types text or taps a choice of the prompt on screen, as a learner on that app would:
on Telegram a tap presses the inline button; on WhatsApp it presses the reply button or list
row, and where the app showed the choices as numbered text (more than ten) the learner types
the number, because that is all WhatsApp lets them do. `walk` takes a learner through a whole
course, answering each prompt from the lesson definitions (the right answer to a quiz, the
first choice elsewhere), by taps or by typing the words of each choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import aiohttp
from sqlalchemy import select

from bot.channels.delivery import Deliverer
from bot.channels.registry import runner_of
from bot.channels.runner import serve
from bot.channels.telegram.runner import open_deliverer
from bot.config import Settings
from bot.content import Library
from bot.content.model import InputStep, QuestionStep, SurveyStep
from bot.engine import LearnerState
from bot.engine.tokens import lesson_token, locale_token, step_token
from bot.store import create_engine
from bot.store.models import Certificate, InboxUpdate, Learner, PendingReply
from tests.fakebotapi import FakeBotAPI
from tests.fakewhatsapp import FakeCloudApi, Sent

ROOT = Path(__file__).resolve().parent.parent
Mode = Literal["tapped", "typed"]


class Driver(Protocol):
    channel: str
    address: str
    settings: Settings

    async def start_serving(self) -> None:
        """Start `lessonbot run` against the fake, and wait until it answers."""

    async def stop(self) -> None: ...

    async def type(self, text: str, *, answered: bool = True) -> None:
        """Send `text` and wait until the bot has answered (or, if not `answered`, until it has
        tried to) and gone quiet."""

    async def tap(self, token: str, label: str) -> None:
        """Choose the option `token` (labelled `label`) of the prompt on screen."""

    def texts(self) -> list[str]:
        """Everything the learner has been shown, in order."""

    def pictures(self) -> int:
        """How many pictures (certificates, lesson images) the learner has been sent."""

    def uploads(self) -> int:
        """How many files were uploaded to the platform (not sent by an id it gave back)."""

    def fail_sends(self, kind: Literal["rate", "server"], times: int) -> None:
        """The platform's next `times` sends fail: its rate limit, or an HTML 502 page."""

    def failed_sends(self) -> int:
        """Sends the platform refused so far."""

    def block(self) -> None:
        """The learner blocks the bot (or, on WhatsApp, can no longer be reached)."""

    def unblock(self) -> None: ...

    async def forge(self, data: str) -> None:
        """A press whose data the bot never sent (someone crafting requests)."""

    async def tap_old(self, index: int, token: str) -> None:
        """Press `token` on the `index`th message the learner got (an old one)."""

    def twin(self) -> Driver:
        """Another learner on the same running bot."""

    def deliverer(self, now: datetime) -> AbstractAsyncContextManager[Deliverer]:
        """The channel's deliverer as `lessonbot worker` opens it, its clock stopped at `now`."""

    def set_time(self, now: datetime) -> None:
        """The platform's clock (for its window and quotas)."""

    def wrote_at(self, when: datetime) -> None:
        """The platform's record of when the learner last wrote (its window opens there)."""


async def until(
    check: Callable[[], Any], task: asyncio.Task[None] | None, timeout: float = 20
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if task is not None and task.done():
            task.result()  # surface a crash of the bot
        if result := check():
            return result
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting for the bot")


async def settle(count: Callable[[], int], seconds: float = 0.1) -> None:
    """Wait until `count` (the fake's calls) stops changing for `seconds`."""
    seen = -1
    while seen != count():
        seen = count()
        await asyncio.sleep(seconds)


async def drained(settings: Settings, task: asyncio.Task[None] | None, timeout: float = 20) -> None:
    """Wait until the bot holds no update it has not handled and is sending no reply.

    A quiet spell in the fake's calls is not enough on a loaded machine: the next part of a
    reply can come later than any pause we would pick, and a test that then moves the clock
    (closing the app's window) would see that part refused."""
    in_flight = select(PendingReply.id).where(PendingReply.owner.is_not(None)).limit(1)
    unhandled = select(InboxUpdate.id).where(InboxUpdate.status == "pending").limit(1)
    engine = create_engine(settings.database_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            async with engine.connect() as conn:
                busy = (await conn.execute(in_flight)).first() or (
                    await conn.execute(unhandled)
                ).first()
            if not busy:
                return
            if task is not None and task.done():
                task.result()  # surface a crash of the bot
            assert time.monotonic() < deadline, "the bot never finished its replies"
            await asyncio.sleep(0.02)
    finally:
        await engine.dispose()


class Running:
    """`lessonbot run` as a task of this test's event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(serve(self.settings))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None


def webhook_settings(database_url: str, port: int, **values: Any) -> Settings:
    """A configuration of webhook channels alone (no Telegram) on `database_url` and `port`,
    serving the shipped lessons unless `values` says otherwise."""
    content = {"lessons_dir": str(ROOT / "lessons"), "locales_dir": str(ROOT / "locales")}
    return Settings(
        _env_file=None, bot_token="", database_url=database_url, port=port, **(content | values)
    )


# -- WhatsApp ------------------------------------------------------------------------------------


def whatsapp_settings(fake: FakeCloudApi, database_url: str, port: int, **extra: Any) -> Settings:
    return webhook_settings(
        database_url,
        port,
        whatsapp_token=fake.token,
        whatsapp_phone_number_id=fake.phone_number_id,
        whatsapp_app_secret=fake.app_secret,
        whatsapp_verify_token="verify-me-please",
        whatsapp_api_url=fake.url,
        whatsapp_templates=str(ROOT / "templates" / "whatsapp.yaml"),
        **extra,
    )


class WebhookDriver(Running):
    """What every webhook channel's driver does the same way; each says how its app types,
    taps and shows. `fake` is the app's loopback fake: it posts the learner's updates to
    `path` on the bot's port, and records `calls` and each learner's `messages_to`."""

    channel: str
    path: str  # the webhook's route

    def __init__(self, fake: Any, settings: Settings, address: str) -> None:
        super().__init__(settings)
        self.fake = fake
        self.address = address
        fake.webhook_url = f"http://127.0.0.1:{settings.port}{self.path}"

    async def start_serving(self) -> None:
        """Start the bot and wait until its server answers (every webhook is a route of it)."""
        self.start()
        deadline = time.monotonic() + 20
        health = f"http://127.0.0.1:{self.settings.port}/healthz"
        async with aiohttp.ClientSession() as http:
            while True:
                with contextlib.suppress(OSError):
                    async with http.get(health) as answer:
                        if answer.status == 200:
                            return
                if self.task is not None and self.task.done():
                    self.task.result()
                assert time.monotonic() < deadline, "the webhook never came up"
                await asyncio.sleep(0.05)

    def sent(self) -> list[Any]:
        return list(self.fake.messages_to(self.address))

    async def _after(self, act: Callable[[], Awaitable[int]], *, answered: bool = True) -> None:
        """Post the learner's update (`act`), then wait until the bot answered (or, if not
        `answered`, tried to) and went quiet."""
        before, calls = len(self.sent()), len(self.fake.calls)
        status = await act()
        assert status == 200, f"the webhook answered {status}"
        if answered:
            await until(lambda: len(self.sent()) > before, self.task)
        else:
            await until(lambda: len(self.fake.calls) > calls, self.task)
        await settle(lambda: len(self.fake.calls))
        await drained(self.settings, self.task)

    @contextlib.asynccontextmanager
    async def deliverer(self, now: datetime) -> AsyncIterator[Deliverer]:
        engine = create_engine(self.settings.database_url)
        sender = runner_of(self.channel).make_sender(self.settings, engine)
        sender.clock = lambda: now
        if hasattr(sender, "platform"):  # a windowed channel's platform counts months by it
            sender.platform.clock = lambda: now
        try:
            yield sender
        finally:
            await sender.close()
            await engine.dispose()

    def set_time(self, now: datetime) -> None:
        self.fake.set_time(now)

    def wrote_at(self, when: datetime) -> None:
        self.fake.wrote_at(self.address, when)


def numbered(text: str, label: str) -> tuple[str, str] | None:
    """Where the app showed the choices as numbered text: the number to type for `label`."""
    for line in text.splitlines():
        number, dot, shown = line.partition(". ")
        if dot and number.isdigit() and shown == label:
            return "number", number
    return None


class WhatsAppDriver(WebhookDriver):
    channel = "whatsapp"
    path = "/whatsapp"
    fake: FakeCloudApi

    def sent(self) -> list[Sent]:
        return self.fake.messages_to(self.address)

    async def type(self, text: str, *, answered: bool = True) -> None:
        await self._after(
            lambda: self.fake.user_sends_text(self.address, text, name="Siti"), answered=answered
        )

    async def tap(self, token: str, label: str) -> None:
        # The message with the choice: the last one, once every part of the reply is here.
        how = await until(lambda: self._choice(token, label), self.task)
        if how[0] == "id":
            await self._after(lambda: self.fake.user_taps(self.address, how[1]))
        else:  # shown as numbered text: the learner types the number of the line
            await self.type(how[1])

    def _choice(self, token: str, label: str) -> tuple[str, str] | None:
        last = self.sent()[-1]
        if last.type == "interactive":
            action = last.body["interactive"]["action"]
            choices = [b["reply"] for b in action.get("buttons", ())] + [
                row for section in action.get("sections", ()) for row in section["rows"]
            ]
            return next(
                (("id", c["id"]) for c in choices if c["id"].rpartition("~")[0] == token), None
            )
        return numbered(last.text, label)

    def uploads(self) -> int:
        return len(self.fake.uploads)

    def fail_sends(self, kind: Literal["rate", "server"], times: int) -> None:
        if kind == "rate":
            self.fake.fail_next(130429, times=times)
        else:
            self.fake.fail_next_raw(502, "<html><body>502 Bad Gateway</body></html>", times=times)

    def failed_sends(self) -> int:
        return len(self.fake.rejected)

    def twin(self) -> WhatsAppDriver:
        """Another learner on the same running bot."""
        other = WhatsAppDriver(self.fake, self.settings, "60123456789")
        other.task = self.task
        return other

    def block(self) -> None:
        self.fake.block(self.address)

    def unblock(self) -> None:
        self.fake.unblock(self.address)

    async def forge(self, data: str) -> None:
        reply = {"type": "button_reply", "button_reply": {"id": data, "title": "Next"}}
        message = {"type": "interactive", "interactive": reply}
        await self._after(lambda: self.fake.user_sends(self.address, message))

    async def tap_old(self, index: int, token: str) -> None:
        old = self.sent()[index]
        action = old.body["interactive"]["action"]
        choices = [b["reply"] for b in action.get("buttons", ())] + [
            row for section in action.get("sections", ()) for row in section["rows"]
        ]
        found = next(c["id"] for c in choices if c["id"].rpartition("~")[0] == token)
        await self._after(lambda: self.fake.user_taps_stale(self.address, index, found))

    def texts(self) -> list[str]:
        return [s.text for s in self.sent()]

    def pictures(self) -> int:
        return sum(s.type == "image" for s in self.sent())


# -- Telegram ------------------------------------------------------------------------------------


class TelegramDriver(Running):
    channel = "telegram"

    def __init__(self, fake: FakeBotAPI, settings: Settings, user: int) -> None:
        super().__init__(settings)
        self.fake = fake
        self.user = user
        self.address = str(user)

    async def start_serving(self) -> None:
        self.start()
        await until(lambda: self.fake.calls_of("setChatMenuButton"), self.task)

    def _busy(self) -> int:
        return sum(c.method != "getUpdates" for c in self.fake.calls)

    async def _after(self, push: Callable[[], Any], *, answered: bool = True) -> None:
        before, busy = len(self.fake.sent_messages(self.user)), self._busy()
        push()
        if answered:
            await until(lambda: len(self.fake.sent_messages(self.user)) > before, self.task)
        else:
            await until(lambda: self._busy() > busy, self.task)
        await settle(self._busy)
        await drained(self.settings, self.task)

    async def type(self, text: str, *, answered: bool = True) -> None:
        await self._after(lambda: self.fake.push_text(self.user, text), answered=answered)

    async def tap(self, token: str, label: str) -> None:
        data, mid = await until(lambda: self._button(token), self.task)
        await self._after(lambda: self.fake.push_callback(self.user, data, mid))

    def _button(self, token: str) -> tuple[str, int] | None:
        """The callback data for `token` on the latest keyboard, and that message's id."""
        for call in reversed(self.fake.sent_messages(self.user)):
            rows = (call.params.get("reply_markup") or {}).get("inline_keyboard")
            if rows:
                return next(
                    (
                        (str(b["callback_data"]), int(call.result["message_id"]))
                        for row in rows
                        for b in row
                        if str(b.get("callback_data", "")).rpartition("~")[0] == token
                    ),
                    None,
                )
        return None

    def uploads(self) -> int:
        return sum(bool(c.files) for c in self.fake.calls_of("sendPhoto"))

    def fail_sends(self, kind: Literal["rate", "server"], times: int) -> None:
        if kind == "rate":
            self.fake.fail_next("sendMessage", 429, retry_after=1, times=times)
        else:
            self.fake.fail_next("sendMessage", 502, "Bad Gateway", times=times)

    def failed_sends(self) -> int:
        return sum(c.status >= 400 for c in self.fake.calls_of("sendMessage"))

    def twin(self) -> TelegramDriver:
        """Another learner on the same running bot."""
        other = TelegramDriver(self.fake, self.settings, self.user + 1)
        other.task = self.task
        return other

    def block(self) -> None:
        self.fake.block_chat(self.user)

    def unblock(self) -> None:
        self.fake.unblock_chat(self.user)

    async def forge(self, data: str) -> None:
        _, mid = await until(lambda: self._any_keyboard(), self.task)
        await self._after(lambda: self.fake.push_callback(self.user, data, mid))

    def _any_keyboard(self) -> tuple[str, int] | None:
        for call in reversed(self.fake.sent_messages(self.user)):
            if (call.params.get("reply_markup") or {}).get("inline_keyboard"):
                return "", int(call.result["message_id"])
        return None

    async def tap_old(self, index: int, token: str) -> None:
        old = self.fake.sent_messages(self.user)[index]
        data = next(
            str(b["callback_data"])
            for row in old.params["reply_markup"]["inline_keyboard"]
            for b in row
            if str(b.get("callback_data", "")).rpartition("~")[0] == token
        )
        mid = int(old.result["message_id"])
        await self._after(lambda: self.fake.push_callback(self.user, data, mid))

    def texts(self) -> list[str]:
        return [
            c.params.get("text") or c.params.get("caption") or ""
            for c in self.fake.sent_messages(self.user)
        ]

    def pictures(self) -> int:
        return sum(
            str(c.params.get("chat_id")) == self.address for c in self.fake.calls_of("sendPhoto")
        )

    def deliverer(self, now: datetime) -> AbstractAsyncContextManager[Deliverer]:
        return open_deliverer(self.settings)  # no window: the clock decides nothing here

    def set_time(self, now: datetime) -> None:
        pass  # the Bot API has no window and no quota

    def wrote_at(self, when: datetime) -> None:
        pass


# -- the learner ---------------------------------------------------------------------------------


async def state_of(driver: Driver) -> tuple[LearnerState, list[str]]:
    """The learner's state as stored, and the courses they hold a certificate of."""
    engine = create_engine(driver.settings.database_url)
    try:
        async with engine.connect() as conn:
            learner_id, raw = (
                await conn.execute(
                    select(Learner.id, Learner.state).where(
                        Learner.channel == driver.channel, Learner.external_id == driver.address
                    )
                )
            ).one()
            query = select(Certificate.course).where(Certificate.learner_id == learner_id)
            certified = list((await conn.execute(query)).scalars())
    finally:
        await engine.dispose()
    return LearnerState.from_json(raw), certified


def answer(library: Library, state: LearnerState, course: str, locale: str) -> tuple[str, str, str]:
    """What a diligent learner answers to the prompt on screen: ("tap" or "type", token, text)."""
    prompt = state.prompt
    options = {o.token: o for o in prompt.options}
    if _naming(prompt.kind):  # the name to print (asked by kind "certificate:<course>" when
        return "type", "", "Siti Aminah"  # the app gave none)
    if state.onboarding == "language" and locale_token(locale) in options:
        return "tap", locale_token(locale), options[locale_token(locale)].label
    position = state.position
    if position is not None:
        lesson = library.lesson(position.course, position.lesson)
        assert lesson is not None
        step = next(s for s in lesson.steps if s.id == position.step)
        if isinstance(step, QuestionStep):
            token = step_token(lesson, step.id, step.correct)
            return "tap", token, options[token].label
        if isinstance(step, InputStep) and not prompt.options:
            typed = {"number": "5", "phone": "+6281234567890"}.get(step.check, "batik")
            return "type", "", typed
        if isinstance(step, SurveyStep) and step.kind == "text":
            return "type", "", "bagus"
    found = library.course(course)
    assert found is not None
    for loaded in found.lessons:  # a lesson of this course on offer: the next one to do
        token = lesson_token(loaded)
        if token in options and f"{course}/{loaded.lesson.id}" not in state.completed:
            return "tap", token, options[token].label
    assert prompt.options, f"nothing to answer: {prompt}"
    first = prompt.options[0]
    return "tap", first.token, first.label


def _naming(kind: str) -> bool:
    """The prompt asks for the name to print on a certificate."""
    return kind == "certificate" or kind.startswith("certificate:")


async def walk(
    driver: Driver,
    library: Library,
    course: str,
    locale: str,
    mode: Mode,
    *,
    lessons: int | None = None,
    answers: int | None = None,
    first_contact: bool = True,
    limit: int = 2000,
) -> LearnerState:
    """From first contact (/start <course>) to the course's certificate (or to the end of its
    first `lessons` lessons, or after `answers` answers), answering each prompt by taps
    (`tapped`) or by typing each choice's words (`typed`). Without `first_contact`, it answers
    what is on screen now."""
    if first_contact:
        await driver.type(f"/start {course}")
    found = library.course(course)
    assert found is not None
    keys = [f"{course}/{lesson.lesson.id}" for lesson in found.lessons]
    trail: list[str] = []
    for _ in range(limit if answers is None else answers + 1):
        state, certified = await state_of(driver)
        if answers is not None and len(trail) == answers:
            return state
        if lessons is not None and set(keys[:lessons]) <= state.completed:
            return state
        if course in certified and not _naming(state.prompt.kind):
            assert set(keys) <= state.completed
            return state
        how, token, text = answer(library, state, course, locale)
        trail.append(f"{state.position and state.position.step} {state.onboarding!r} -> {text!r}")
        if how == "type":
            await driver.type(text)
        elif mode == "tapped":
            await driver.tap(token, text)
        else:
            await driver.type(text)
    shown = "\n".join(trail[-12:] + driver.texts()[-4:])
    raise AssertionError(f"the course was not finished in {limit} answers:\n{shown}")
