"""Every learner case, once, on every channel: Telegram (aiogram, python-telegram-bot),
WhatsApp, LINE, Messenger and Zalo.

Each test runs the real `lessonbot run` against that channel's loopback fake, through the
channel-neutral driver of tests/channel_drivers.py, and asserts the same outcome everywhere.
What differs by the platform's rules (WhatsApp's 24-hour window) is asserted per channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.app import build_service
from bot.broadcast import commands
from bot.channels.capabilities import capabilities
from bot.content import load_library
from bot.journey.followups import FollowUps, Policy
from bot.store import create_engine
from bot.store.models import Learner
from tests.channel_drivers import (
    ROOT,
    Driver,
    Mode,
    TelegramDriver,
    WhatsAppDriver,
    state_of,
    walk,
    whatsapp_settings,
)
from tests.fakebotapi import FakeBotAPI
from tests.fakewhatsapp import FakeCloudApi
from tests.line_driver import learner_on_line
from tests.messenger_driver import learner_on_messenger
from tests.test_telegram_e2e import ANA, PNG, free_port, settings_for
from tests.test_whatsapp_e2e import approved
from tests.zalo_driver import learner_on_zalo

CHANNELS = ["aiogram", "ptb", "whatsapp", "line", "messenger", "zalo"]
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("channel", CHANNELS)]
SITI = "6281234567890"
LIBRARY, _ = load_library(ROOT / "lessons")


@contextlib.asynccontextmanager
async def whatsapp_learner(database_url: str, lessons: Path) -> AsyncIterator[Driver]:
    async with FakeCloudApi(templates=approved()) as fake:
        settings = whatsapp_settings(fake, database_url, free_port(), lessons_dir=str(lessons))
        driver = WhatsAppDriver(fake, settings, SITI)
        await driver.start_serving()
        try:
            yield driver
        finally:
            await driver.stop()


def telegram_learner(
    framework: str,
) -> Callable[[str, Path], contextlib.AbstractAsyncContextManager[Driver]]:
    @contextlib.asynccontextmanager
    async def learner(database_url: str, lessons: Path) -> AsyncIterator[Driver]:
        async with FakeBotAPI(max_poll_wait=0.2) as telegram:
            settings = settings_for(telegram, database_url, framework, lessons)
            driver = TelegramDriver(telegram, settings, ANA)
            await driver.start_serving()
            try:
                yield driver
            finally:
                await driver.stop()

    return learner


# Each channel: a running bot against its fake, and one learner talking to it.
LEARNERS: dict[str, Callable[[str, Path], contextlib.AbstractAsyncContextManager[Driver]]] = {
    "aiogram": telegram_learner("aiogram"),
    "ptb": telegram_learner("ptb"),
    "whatsapp": whatsapp_learner,
    "line": learner_on_line,
    "messenger": learner_on_messenger,
    "zalo": learner_on_zalo,
}


def learner_on(
    channel: str, database_url: str, lessons: Path = ROOT / "lessons"
) -> contextlib.AbstractAsyncContextManager[Driver]:
    return LEARNERS[channel](database_url, lessons)


@pytest.fixture
async def learner(channel: str, database_url: str) -> AsyncIterator[Driver]:
    async with learner_on(channel, database_url) as driver:
        yield driver


@pytest.mark.parametrize("mode", ["tapped", "typed"])
async def test_a_whole_lesson(learner: Driver, mode: Mode) -> None:
    state = await walk(learner, LIBRARY, "online-safety", "en", mode, lessons=1)
    assert "online-safety/spot-the-scam" in state.completed
    assert state.locale == "en"


async def test_restart_resumes_where_the_learner_left(learner: Driver) -> None:
    await walk(learner, LIBRARY, "online-safety", "en", "tapped", answers=6)
    before, _ = await state_of(learner)
    await learner.stop()
    await learner.start_serving()
    after, _ = await state_of(learner)
    assert after.position == before.position
    state = await walk(
        learner, LIBRARY, "online-safety", "en", "tapped", lessons=1, first_contact=False
    )
    assert "online-safety/spot-the-scam" in state.completed


async def test_stale_and_forged_presses_never_move_the_learner(learner: Driver) -> None:
    await walk(learner, LIBRARY, "online-safety", "en", "tapped", answers=4)
    state, _ = await state_of(learner)
    assert state.position is not None
    shown = len(learner.texts()) - 1  # the prompt on screen now
    token = state.prompt.options[0].token
    await learner.tap(token, state.prompt.options[0].label)
    moved, _ = await state_of(learner)
    assert moved.position != state.position
    await learner.tap_old(shown, token)  # the same button again, on the old message
    assert "earlier message" in " ".join(learner.texts()[-3:])
    await learner.forge("o:AAAAAAAA:BBBB:n:CCCC~xx")
    assert "earlier message" in " ".join(learner.texts()[-3:])
    still, _ = await state_of(learner)
    assert still.position == moved.position


@pytest.mark.parametrize("kind", ["rate", "server"])
async def test_rate_limits_and_outages_are_waited_out(learner: Driver, kind: str) -> None:
    await walk(learner, LIBRARY, "online-safety", "en", "tapped", answers=3)
    learner.fail_sends(kind, 2)  # type: ignore[arg-type]
    await learner.type("/progress")
    assert learner.failed_sends() == 2
    assert "/progress" not in learner.texts()[-1]  # the reply itself came, after the storm


async def test_a_blocked_learner_is_marked_and_not_retried(learner: Driver) -> None:
    await walk(learner, LIBRARY, "online-safety", "en", "tapped", answers=3)
    learner.block()
    if learner.channel == "line":
        # LINE tells the bot (an unfollow event) and the learner can't write until they add it
        # again; pushes to them are accepted and dropped, so nothing fails.
        await until_status(learner, "blocked")
        assert learner.failed_sends() == 0
    else:
        await learner.type("/menu", answered=False)  # nothing reaches them
        assert learner.failed_sends() == 1
        assert await status(learner) == "blocked"
    learner.unblock()
    await learner.type("/menu")
    assert await status(learner) == "active"


async def until_status(learner: Driver, wanted: str, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while await status(learner) != wanted:
        assert asyncio.get_running_loop().time() < deadline, f"never {wanted}"
        await asyncio.sleep(0.05)


async def status(learner: Driver) -> str:
    engine = create_engine(learner.settings.database_url)
    try:
        async with engine.connect() as conn:
            query = select(Learner.status).where(Learner.external_id == learner.address)
            return str((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()


async def test_media_is_uploaded_once(channel: str, database_url: str, tmp_path: Path) -> None:
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
    async with learner_on(channel, database_url, tmp_path / "lessons") as learner:
        library, _ = load_library(tmp_path / "lessons")
        other = learner.twin()
        if learner.channel == "line":
            # LINE sends pictures only by public HTTPS URL, which the bot does not host yet:
            # the step goes as its text (bot/channels/line/sender.py).
            await walk(learner, library, "demo", "en", "tapped", lessons=1)
            assert learner.pictures() == 0 and "A stall" in learner.texts()
            return
        for someone in (learner, other):
            await walk(someone, library, "demo", "en", "tapped", lessons=1)
            assert someone.pictures() == 1
        assert learner.uploads() == 1  # the second learner got it by the platform's id


async def last_wrote(learner: Driver, when: datetime) -> None:
    """As if the learner's last message had come at `when`, on both sides' clocks."""
    engine = create_engine(learner.settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(Learner)
                .where(Learner.external_id == learner.address)
                .values(last_active_at=when.astimezone(UTC).replace(tzinfo=None))
            )
    finally:
        await engine.dispose()
    learner.wrote_at(when)  # the platform's window starts at that moment too


async def remind(learner: Driver, quiet: timedelta) -> list[str]:
    """Make the learner `quiet` for that long (at 10:00 in Jakarta), run the reminder loop once
    as the worker does, and return what reached them."""
    now = datetime.now(UTC).replace(hour=3, minute=0, second=0, microsecond=0) + timedelta(days=7)
    learner.set_time(now)
    await last_wrote(learner, now - quiet)
    engine = create_engine(learner.settings.database_url)
    try:
        before = len(learner.texts())
        service = build_service(learner.settings, engine)
        async with learner.deliverer(now) as deliverer:
            followups = FollowUps(
                engine,
                service.library,
                service.texts,
                deliverer,
                Policy.from_settings(learner.settings),
                clock=lambda: now,
            )
            await followups.run_once()
    finally:
        await engine.dispose()
    return learner.texts()[before:]


async def test_reminders_inside_and_outside_the_window(learner: Driver) -> None:
    await walk(learner, LIBRARY, "online-safety", "en", "tapped", answers=4)
    first = await remind(learner, timedelta(hours=13))
    later = await remind(learner, timedelta(days=3, hours=1))
    caps = capabilities(learner.channel)
    if caps.window is None:  # Telegram, LINE: no window to catch; the reminder waits for day 3
        assert first == []
        assert len(later) == 1 and "Spot the scam" in later[0]
    elif caps.outside_window == "templates":
        # WhatsApp: inside the window a free-form reminder; at day 3 only the approved template.
        assert len(first) == 1 and not first[0].startswith("[")
        assert len(later) == 1 and later[0].startswith("[lesson_reminder]")
    elif caps.outside_window == "nothing":
        # Messenger: the reminder inside the window is the only one there can be.
        assert len(first) == 1 and "Spot the scam" in first[0]
        assert later == []
    else:
        # Zalo: its 48 h window is caught after 24 h of quiet (not yet at 13 h); at day 3 the
        # reminder goes as a proactive message, counted against the monthly allowance.
        assert first == []
        assert len(later) == 1 and "Spot the scam" in later[0]
    assert learner.failed_sends() == 0  # nothing was sent that the platform refused


async def test_a_broadcast_outside_the_window_goes_as_the_template(
    learner: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where the list of who did not get it is written
    await walk(learner, LIBRARY, "online-safety", "en", "tapped", answers=4)
    await last_wrote(learner, datetime.now(UTC) - timedelta(days=2))
    if capabilities(learner.channel).window is not None:
        # A bot that ran through those two days would know no later message; this one heard
        # one a moment ago and keeps it in memory, so its broadcast loop would try free-form
        # first, and the app refuse it. Started again, it knows only what the store says.
        await learner.stop()
        await learner.start_serving()
    path = tmp_path / "grant.yaml"
    path.write_text(
        "version: 1\nkind: broadcast\nid: grant\nurgent: true\n"  # whatever the hour
        "text:\n  en: '<b>New grant</b>: applications close on 31 December.'\n"
    )
    before = len(learner.texts())
    out = io.StringIO()
    assert (
        await commands.send(learner.settings, path, [], None, dry_run=False, yes=True, out=out) == 0
    )
    got = learner.texts()[before:]
    outside = capabilities(learner.channel).outside_window
    if outside == "templates":
        assert got == ["[programme_update] New grant: applications close on 31 December."]
    elif outside == "nothing":
        assert got == []
        assert "skipped" in out.getvalue()  # the admin is told who the window left out
    elif learner.channel in ("aiogram", "ptb"):
        assert got == ["<b>New grant</b>: applications close on 31 December."]
    else:  # as written, in the app's own formatting
        assert len(got) == 1 and "New grant" in got[0] and "31 December." in got[0]
    assert learner.failed_sends() == 0
