"""The Bot API misbehaving under the whole bot, on the real aiogram and python-telegram-bot:
answers that are not JSON, a slow answer, and /healthz while another process writes.

Each fault hits one call, so the learner must still get each reply exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import pytest

from bot.config import Settings
from tests.fakebotapi import Call, FakeBotAPI
from tests.test_faults import HTML_502, write_lock_held
from tests.test_telegram_e2e import (  # the Telegram harness and its fixtures
    ANA,
    Harness,
    bot,  # noqa: F401
    fake,  # noqa: F401
    free_port,
    settings,  # noqa: F401
)

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("framework", ["aiogram", "ptb"])]

OTHER = 2002  # a learner on the same path with no fault, to compare with
NOT_JSON = {
    "html-502": (502, HTML_502, "text/html"),
    "not-json-200": (200, "Service temporarily unavailable", "text/plain"),
    "cut-off-200": (200, '{"ok":true,"result":{"message_id":4', "application/json"),
}
FIRST_STEP = "Spot the scam"


def texts(calls: list[Call]) -> list[str]:
    return [c.params["text"] for c in calls]


async def clean_reply(bot: Harness) -> list[str]:
    """What "Stay safe online" answers with no fault, for another learner, to compare with."""
    await bot.begin(user=OTHER)
    replies = texts(await bot.press("Stay safe online", user=OTHER))
    assert sum(FIRST_STEP in t for t in replies) == 1
    return replies


@pytest.mark.parametrize("answer", NOT_JSON)
async def test_an_answer_that_is_not_json_is_retried_and_replied_once(
    bot: Harness, answer: str
) -> None:
    expected = await clean_reply(bot)
    await bot.begin()
    status, body, content_type = NOT_JSON[answer]
    bot.fake.fail_next("sendMessage", status, body=body, content_type=content_type)
    replies = await bot.press("Stay safe online")
    assert [c.status for c in bot.fake.calls_of("sendMessage") if c.raw is not None] == [status]
    assert texts(replies) == expected  # each reply once, none lost


async def test_a_slow_answer_is_waited_for_not_sent_twice(bot: Harness) -> None:
    """6 s: longer than ptb's default 5 s read timeout, after which it used to send again."""
    expected = await clean_reply(bot)
    await bot.begin()
    answered = asyncio.Event()

    def on_call(call: Call) -> None:
        if call.method == "sendMessage" and FIRST_STEP in call.params.get("text", ""):
            answered.set()

    bot.fake.listeners.append(on_call)
    bot.fake.delay_next("sendMessage", 6.0)
    started = time.monotonic()
    await bot.press("Stay safe online")  # returns once the slow call has arrived
    await asyncio.wait_for(answered.wait(), 15)  # the slow answer went out...
    assert time.monotonic() - started >= 6.0
    await bot.quiet(ANA, settle=1.5)  # ...and no second copy followed it
    sent = [c for c in bot.fake.calls_of("sendMessage") if c.time >= started]
    assert texts([c for c in sent if str(c.params["chat_id"]) == str(ANA)]) == expected


async def test_healthz_answers_at_once_while_another_process_writes(
    fake: FakeBotAPI, settings: Settings, database_url: str
) -> None:
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
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # the server starts listening right after setWebhook
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.get(url) as response:
                        break
                await asyncio.sleep(0.05)
            async with http.get(url) as response:
                assert response.status == 200
                assert await response.json() == {"database": "ok"}
            async with write_lock_held(database_url):
                started = time.monotonic()
                async with http.get(url) as response:
                    status, body = response.status, await response.json()
                waited = time.monotonic() - started
            assert waited < 1.0, f"/healthz took {waited:.1f} s behind the write lock"
            assert status == 200 and body["database"] == "busy", body
    finally:
        await harness.stop()
