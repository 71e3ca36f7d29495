"""The learner journey as a new user meets it, through the real frameworks and the fake Bot
API: a poster's deep link, the privacy notice and profile, a lesson, a reminder that opens where
they stopped, the course, a certificate, and months later the survey."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from PIL import Image

from bot.app import build_service, open_database
from bot.broadcast.hours import QuietHours
from bot.channels.telegram.runner import open_deliverer
from bot.config import Settings
from bot.journey.followups import FollowUps, Policy
from tests.fakebotapi import FakeBotAPI
from tests.test_journey import write_mini_lessons
from tests.test_telegram_e2e import ANA, Harness, settings_for

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("framework", ["aiogram", "ptb"])]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(max_poll_wait=0.2) as server:
        yield server


@pytest.fixture
def settings(fake: FakeBotAPI, tmp_path: Path, database_url: str, framework: str) -> Settings:
    return settings_for(fake, database_url, framework, write_mini_lessons(tmp_path / "lessons"))


async def follow_ups(settings: Settings, days: float) -> None:
    """What `lessonbot worker` does once, `days` from now (at any hour: no night here)."""
    engine = await open_database(settings)
    service = build_service(settings, engine)
    policy = Policy(night=QuietHours(time(0), time(0)))
    later = datetime.now(UTC) + timedelta(days=days)
    try:
        async with open_deliverer(settings) as deliverer:
            await FollowUps(
                engine, service.library, service.texts, deliverer, policy, clock=lambda: later
            ).run_once()
    finally:
        await engine.dispose()


async def test_new_learner_from_poster_to_certificate_reminder_and_survey(
    fake: FakeBotAPI, settings: Settings
) -> None:
    bot = Harness(fake, settings)
    await bot.start()
    try:
        await bot.say("/start mini")  # t.me/<bot>?start=mini, from a QR code on a poster
        notice = await bot.press("English")
        assert "/mydata shows everything I keep" in notice[0].params["text"]
        replies = await bot.press("▶️ Start learning")
        assert "Lesson one" in replies[-2].params["text"]  # the deep-linked course opened
        await bot.press("Next")
        done = await bot.press("Good")
        assert "▶️ Lesson two" in str(done[-2].params["reply_markup"])
        assert "a few quick questions" in done[-1].params["text"]  # after the first lesson
        await bot.press("Yes, ask me")
        for answer in ("Thailand", "Food and drinks", "Woman", "25–35", "No", "No"):
            replies = await bot.press(answer)
        # With consent, the baseline: the same questions the follow-up waves will ask.
        assert "Five more short questions" in replies[-1].params["text"]
        for answer in ("Start", "No", "Fewer than 10", "No", "No", "Yes"):
            replies = await bot.press(answer)
        assert "back to the lessons" in replies[-1].params["text"]
        assert "▶️ Lesson two" in str(replies[-1].params["reply_markup"])
        # Ana puts the phone down. Four days later the worker reminds her.
        await follow_ups(settings, days=4)
        nudge = fake.sent_messages(ANA)[-1]
        assert "You stopped in the middle of “Lesson two”" in nudge.params["text"]
        replies = await bot.press("▶️ Continue")
        assert any("Lesson two" in r.params.get("text", "") for r in replies)
        await bot.press("Next")
        finished = await bot.press("Good")
        assert "You get a certificate" in finished[-1].params["text"]
        confirm = await bot.press("Test")  # her Telegram first name, offered as a button
        assert "Print the name “Test”" in confirm[-1].params["text"]
        replies = await bot.say("1")  # typed: the number of "Yes"
        photo = next(r for r in replies if r.method == "sendPhoto")
        [upload] = photo.files
        with Image.open(io.BytesIO(upload.data)) as image:
            assert image.format == "PNG" and image.size == (1600, 1130)
        caption = replies[replies.index(photo) + 1].params["text"]  # sent right after it
        code = caption.rsplit(" ", 1)[-1].rstrip(".")
        verified = await bot.say(f"/verify {code}", user=ANA + 1)
        assert "Genuine: Test completed “Mini course”" in verified[-1].params["text"]
        # Three months later: the first wave's invitation, once.
        await follow_ups(settings, days=93)
        await follow_ups(settings, days=94)
        invitations = [
            c
            for c in fake.sent_messages(ANA)
            if "a few short questions" in c.params.get("text", "")
        ]
        assert len(invitations) == 1
        replies = await bot.press("Answer the questions")
        assert "How is your business now?" in replies[0].params["text"]
    finally:
        await bot.stop()
