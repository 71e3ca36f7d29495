"""An admin's broadcast is queued once, however "Send now" reaches the bot, and an admin that
ADMIN_IDS no longer lists is no admin after a restart: the real bot, on both frameworks."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from tests.databases import rows
from tests.fakebotapi import FakeBotAPI
from tests.test_telegram_e2e import (  # the Telegram harness and its fixtures
    ANA,
    Harness,
    fake,  # noqa: F401
    free_port,
    keyboard,
    message_id,
    settings,  # noqa: F401
)

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("framework", ["aiogram", "ptb"])]

LEARNER = 2002
ALERT = (
    "version: 1\nkind: broadcast\nid: alert\nurgent: true\n"
    "text: {en: 'Scam alert, {first_name}!'}\n"
)
SECRET = "a-webhook-secret-of-32-characters"


def admin_settings(settings: Settings, tmp_path: Path, **more: object) -> Settings:
    folder = tmp_path / "broadcasts"
    folder.mkdir(exist_ok=True)
    (folder / "alert.yaml").write_text(ALERT)
    return settings.model_copy(
        update={"admin_ids": str(ANA), "broadcasts_dir": str(folder), **more}
    )


def alerts(fake: FakeBotAPI, user: int) -> list[str]:
    """The broadcast as received (the admin's preview of it starts with its language)."""
    texts = [c.params["text"] for c in fake.sent_messages(user)]
    return [text for text in texts if text.startswith("Scam alert")]


async def to_the_send_button(harness: Harness) -> tuple[str, int]:
    """A learner and the admin start; the admin previews the file. The "Send now" button."""
    await harness.begin(user=LEARNER)
    await harness.begin()
    await harness.say("/broadcast")
    await harness.press("alert")
    last = harness.last_keyboard()
    data = next(
        b["callback_data"] for row in keyboard(last) for b in row if "Send now" in b["text"]
    )
    return data, message_id(last)


async def test_send_now_queues_once_for_a_double_tap_and_an_old_button(
    fake: FakeBotAPI, settings: Settings, tmp_path: Path, database_url: str
) -> None:
    harness = Harness(fake, admin_settings(settings, tmp_path))
    await harness.start()
    try:
        data, mid = await to_the_send_button(harness)
        fake.push_callback(ANA, data, mid)  # a double tap: two updates, one right after
        fake.push_callback(ANA, data, mid)
        await harness.until(lambda: alerts(fake, LEARNER) and alerts(fake, ANA))
        await harness.quiet(ANA, settle=1.0)
        answers = harness.texts()
        assert sum("is queued now" in t for t in answers) == 1
        assert sum("queued already, as broadcast 1" in t for t in answers) == 1
        # The same button pressed again later, once the broadcast is done.
        await harness.until(lambda: [t for t in harness.texts() if "is done" in t])
        again = await harness.press("", data=data, message=harness.last_keyboard())
        assert "queued already, as broadcast 1" in again[-1].params["text"]
        await harness.quiet(LEARNER, settle=1.0)
        assert await rows(database_url, "SELECT count(*) FROM broadcasts") == [(1,)]
        assert len(alerts(fake, LEARNER)) == 1 and len(alerts(fake, ANA)) == 1
    finally:
        await harness.stop()


async def test_a_redelivered_send_now_queues_once(
    fake: FakeBotAPI, settings: Settings, tmp_path: Path, database_url: str
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg/hook"
    hooked = admin_settings(settings, tmp_path, webhook_url=url, webhook_secret=SECRET, port=port)
    harness = Harness(fake, hooked)
    await harness.start()
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    posts: set[asyncio.Task[None]] = set()

    async def post(update: dict[str, Any]) -> None:
        async with http.post(url, json=update, headers=headers) as response:
            assert response.status == 200

    def delivered_by_webhook(update: dict[str, Any]) -> dict[str, Any]:
        # In webhook mode Telegram posts each update to us; so does the fake's "push" here.
        update.setdefault("update_id", fake.next_update_id())
        posts.add(asyncio.create_task(post(update)))
        return update

    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # the server starts listening right after setWebhook
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.get(f"http://127.0.0.1:{port}/healthz"):
                        break
                await asyncio.sleep(0.05)
            fake.push_update = delivered_by_webhook  # type: ignore[method-assign]
            data, mid = await to_the_send_button(harness)
            update = fake.make_callback(ANA, data, mid)
            update["update_id"] = fake.next_update_id()
            await post(update)
            await post(update)  # Telegram sends it again: it did not see our first answer
            await harness.until(lambda: alerts(fake, LEARNER) and alerts(fake, ANA))
            await harness.quiet(ANA, settle=1.0)
            await asyncio.gather(*posts)
        assert await rows(database_url, "SELECT count(*) FROM broadcasts") == [(1,)]
        assert sum("is queued now" in t for t in harness.texts()) == 1
        assert not [t for t in harness.texts() if "queued already" in t]  # skipped, not answered
        assert len(alerts(fake, LEARNER)) == 1
    finally:
        await harness.stop()


async def test_an_admin_taken_out_of_admin_ids_is_no_admin_after_a_restart(
    fake: FakeBotAPI, settings: Settings, tmp_path: Path
) -> None:
    harness = Harness(fake, admin_settings(settings, tmp_path))
    await harness.start()
    try:
        await harness.begin()
        stats = await harness.say("/stats")
        assert "Learners:" in stats[0].params["text"]
    finally:
        await harness.stop()
    harness = Harness(fake, admin_settings(settings, tmp_path, admin_ids=""))
    await harness.start()
    try:
        refused = await harness.say("/stats")
        assert "I don't know that command." in refused[0].params["text"]
    finally:
        await harness.stop()
