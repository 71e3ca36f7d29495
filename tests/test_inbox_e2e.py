"""The inbox and the reply outbox under the real frameworks: a poison update, and a 429 on a
learner's reply in webhook mode."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest
from sqlalchemy import text

from bot.config import Settings
from bot.store import create_engine
from tests.databases import rows
from tests.fakebotapi import FakeBotAPI
from tests.test_telegram_e2e import (  # the Telegram harness and its fixtures
    ANA,
    Harness,
    bot,  # noqa: F401
    fake,  # noqa: F401
    free_port,
    settings,  # noqa: F401
)

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("framework", ["aiogram", "ptb"])]
BEA = 1002
SECRET = "inbox-test-webhook-secret"
PAUSE = 8  # seconds: the 429's retry_after


async def test_a_poison_update_is_set_aside_and_never_blocks_the_ones_behind_it(
    bot: Harness,
    settings: Settings,
) -> None:
    # A message with no chat and no date: no framework can build its Update from it.
    bot.fake.push_update({"message": {"message_id": 1, "text": "hi"}})
    replies = await bot.say("/help")
    assert replies and "/continue" in replies[-1].params["text"]
    [(key, error)] = await rows(
        settings.database_url, "SELECT key, error FROM inbox WHERE status = 'poison'"
    )
    assert key.startswith("telegram:") and error
    replies = await bot.say("/help")  # and it is not tried again
    assert len(replies) == 1


async def test_a_429_on_one_reply_holds_neither_the_webhook_nor_other_learners(
    fake: FakeBotAPI,
    settings: Settings,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg"
    harness = Harness(
        fake,
        settings.model_copy(update={"webhook_url": url, "webhook_secret": SECRET, "port": port}),
    )
    await harness.start()
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

    async def post(user: int, text: str) -> None:
        """Deliver an update as Telegram does, and wait for the webhook's answer."""
        update = fake.make_message(user, text)
        update["update_id"] = fake.next_update_id()
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, json=update, headers=headers) as response,
        ):
            assert response.status == 200

    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.get(f"http://127.0.0.1:{port}/healthz"):
                        break
                await asyncio.sleep(0.05)
        # Told what happened, not how long it took: the order of events shows who waited, where
        # a bound in seconds would fail on a loaded machine (1.03 s against 1.0 once). The
        # pause is long enough for Bea's whole exchange to fit inside it however slow that is.
        fake.fail_next("sendMessage", 429, retry_after=PAUSE)
        await post(ANA, "/help")
        await harness.until(lambda: fake.calls_of("sendMessage"))  # Ana's reply met the 429
        await post(BEA, "/help")  # the webhook answers while Ana's reply waits out its pause
        assert not fake.sent_messages(ANA)
        await harness.until(lambda: fake.sent_messages(BEA), timeout=PAUSE)
        assert not fake.sent_messages(ANA)  # Bea was not kept waiting behind Ana's pause
        await harness.until(lambda: fake.sent_messages(ANA), timeout=PAUSE + 15)
        paused = [c for c in fake.calls_of("sendMessage") if c.status == 429]
        delivered = fake.sent_messages(ANA)[0]
        assert delivered.time - paused[0].time >= PAUSE  # honoured, from the outbox
        assert fake.sent_messages(BEA)[0].time < delivered.time
        await harness.quiet(ANA)
        assert len(fake.sent_messages(ANA)) == 1
    finally:
        await harness.stop()


async def test_a_database_failure_is_told_once_and_the_update_answered_later(
    bot: Harness,
    settings: Settings,
) -> None:
    """Every write to learners fails for a while (a trigger standing in for a full disk): the
    learner hears the truth once, the update stays in the inbox, and is answered after."""
    await bot.begin()
    url = settings.database_url
    postgres = url.startswith("postgresql")
    await execute(url, FAIL_POSTGRES if postgres else FAIL_SQLITE)
    try:
        bot.fake.push_text(ANA, "/help")
        await bot.until(lambda: any(WILL_RETRY_EN in t for t in bot.texts()))
        await asyncio.sleep(3)  # retried meanwhile, and failing again: no second apology
        assert sum(WILL_RETRY_EN in t for t in bot.texts()) == 1
        assert not any("/continue –" in t for t in bot.texts())
    finally:
        await execute(
            url,
            "DROP TRIGGER fail_learner_writes ON learners"
            if postgres
            else "DROP TRIGGER fail_learner_writes",
        )
    await bot.until(lambda: any("/continue –" in t for t in bot.texts()), timeout=90)
    [(status,)] = await rows(url, "SELECT status FROM inbox ORDER BY id DESC LIMIT 1")
    assert status == "done"


WILL_RETRY_EN = "I have your message and will answer it as soon as I can"
FAIL_SQLITE = (
    "CREATE TRIGGER fail_learner_writes BEFORE UPDATE ON learners "
    "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
)
FAIL_POSTGRES = [
    "CREATE OR REPLACE FUNCTION fail_learner_writes() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$ "
    "LANGUAGE plpgsql",
    "CREATE TRIGGER fail_learner_writes BEFORE UPDATE ON learners "
    "FOR EACH ROW EXECUTE FUNCTION fail_learner_writes()",
]


async def execute(url: str, statements: str | list[str]) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in [statements] if isinstance(statements, str) else statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()
