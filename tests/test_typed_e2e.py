"""A learner who types instead of tapping, through both real frameworks and the fake Bot API.

Typed numbers go to what the learner was last shown: the language, country, course, delete
and certificate prompts, and `/progress` followed by `1` in the middle of a quiz presses the
progress screen's Continue instead of answering the quiz.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.databases import rows
from tests.fakebotapi import FakeBotAPI
from tests.test_journey import write_mini_lessons
from tests.test_telegram_e2e import ANA, ROOT, Harness, settings_for

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("framework", ["aiogram", "ptb"])]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(max_poll_wait=0.2) as server:
        yield server


def text(replies: list[object]) -> str:
    return "\n".join(getattr(r, "params", {}).get("text", "") for r in replies)


async def test_typed_numbers_at_every_prompt_and_progress_mid_quiz(
    fake: FakeBotAPI, database_url: str, framework: str
) -> None:
    bot = Harness(fake, settings_for(fake, database_url, framework, ROOT / "lessons"))
    await bot.start()
    try:
        await bot.say("/start")
        assert "I keep your progress" in text(await bot.say("1"))  # [1] English
        assert "What we keep and why" in text(await bot.say("2"))  # [2] More about this
        assert "Our courses" in text(await bot.say("1"))  # [1] Start learning
        assert "Spot the scam" in text(await bot.say("3"))  # [3] Stay safe online
        for _ in range(3):  # Show me, Next, Next
            quiz = await bot.say("1")
        assert "Your friend" in text(quiz) or "code" in text(quiz)
        progress = await bot.say("/progress")
        assert "Your progress" in text(progress)
        again = await bot.say("1")  # [1] Continue: back to the quiz, not an answer to it
        assert text(again) == text(quiz[-1:])
        assert await rows(database_url, "SELECT step, value FROM answers") == []
        assert "Which country" in text(await bot.say("/country"))
        assert "Saved." in text(await bot.say("9"))  # [9] Thailand
        await bot.say("/delete")
        assert "Your data is erased" in text(await bot.say("1"))  # [1] Yes, erase everything
    finally:
        await bot.stop()


async def test_typed_numbers_at_the_certificate_prompt(
    fake: FakeBotAPI, database_url: str, framework: str, tmp_path: Path
) -> None:
    lessons = write_mini_lessons(tmp_path / "lessons")
    bot = Harness(fake, settings_for(fake, database_url, framework, lessons))
    await bot.start()
    try:
        await bot.say("/start mini")
        await bot.say("English")
        await bot.say("Start learning")
        for typed in ("1", "1", "2", "1", "1", "1"):
            # Next, Good, [2] No to the profile questions, [1] ▶️ Lesson two, Next, Good
            replies = await bot.say(typed)
        assert "You get a certificate" in text(replies)
        assert "Print the name “Test”" in text(await bot.say("1"))  # [1] her first name
        printed = await bot.say("1")  # [1] Yes
        assert any(r.method == "sendPhoto" for r in printed)
        assert fake.sent_messages(ANA)
    finally:
        await bot.stop()
