"""SIGKILL at any moment loses no update and leaves no learner unanswered.

A real `lessonbot run` (each framework, polling and webhook) serves learners from the loopback
fake Bot API and is killed with SIGKILL: at random moments while updates are being fetched,
handled and answered, and exactly between a reply's commit and its delivery. Each case counts,
from the fake's call log and the database, the updates lost, the learners left unanswered and
the duplicate replies. The documented window (docs/performance.md): a kill can duplicate only
the replies in flight at that instant, at most one per learner being answered.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.databases import rows
from tests.fakebotapi import FakeBotAPI
from tests.test_telegram_e2e import ROOT, TOKEN, free_port

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("framework", ["aiogram", "ptb"])]
SECRET = "crash-test-webhook-secret"
LEARNERS = [2001, 2002, 2003, 2004, 2005]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(max_poll_wait=0.2) as server:
        yield server


class Bot:
    """One `lessonbot run` at a time, killed and started again as the test says."""

    def __init__(
        self, fake: FakeBotAPI, database_url: str, framework: str, cwd: Path, webhook: bool
    ) -> None:
        self.fake = fake
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/tg" if webhook else ""
        self.env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": fake.url,
            "TELEGRAM_FRAMEWORK": framework,
            "DATABASE_URL": database_url,
            "LESSONS_DIR": str(ROOT / "lessons"),
            "LOCALES_DIR": str(ROOT / "locales"),
            "WEBHOOK_URL": self.url,
            "WEBHOOK_SECRET": SECRET,
            "PORT": str(self.port),
        }
        self.cwd = cwd
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        started = len(self.fake.calls_of("setChatMenuButton"))
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=self.env, cwd=self.cwd
        )
        await until(lambda: len(self.fake.calls_of("setChatMenuButton")) > started, 60)
        if self.url:
            await until(self._listening, 30)

    async def _listening(self) -> bool:
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{self.port}/healthz") as response,
            ):
                return response.status == 200
        except aiohttp.ClientConnectionError:
            return False

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no cleanup, nothing acknowledged that wasn't already
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            assert await self.proc.wait() == 0

    async def send(self, user: int, text: str) -> None:
        """A learner's message: queued for polling, or posted to the webhook as Telegram
        does, again and again until it gets a 200 (also while the process is down)."""
        update = self.fake.make_message(user, text)
        if not self.url:
            self.fake.push_update(update)
            return
        update["update_id"] = self.fake.next_update_id()
        asyncio.get_running_loop().create_task(self._post_until_accepted(update))

    async def _post_until_accepted(self, update: dict[str, Any]) -> None:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        while True:
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.post(self.url, json=update, headers=headers) as response,
                ):
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


async def until(check: Callable[[], Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def replies_to(fake: FakeBotAPI, user: int) -> int:
    return len(fake.sent_messages(user))


async def inbox_statuses(database_url: str) -> dict[str, int]:
    found = await rows(database_url, "SELECT status, COUNT(*) FROM inbox GROUP BY status")
    return {str(status): int(count) for status, count in found}


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_random_kills_lose_nothing(
    fake: FakeBotAPI, database_url: str, framework: str, mode: str, tmp_path: Path
) -> None:
    """Five learners send /help eight times each (one reply each) while the bot is killed
    three times at random moments; then every update is answered and duplicates stay in
    the window."""
    rng = random.Random(f"{framework}-{mode}")  # the same moments on every run
    fake.delay(0.02)  # every reply takes a little while: kills land in the middle of sends
    bot = Bot(fake, database_url, framework, tmp_path, webhook=mode == "webhook")
    await bot.start()
    waves, kills = 8, 3
    kill_after = sorted(rng.sample(range(1, waves), kills))
    try:
        for wave in range(waves):
            for user in LEARNERS:
                await bot.send(user, "/help")
            if wave in kill_after:
                await asyncio.sleep(rng.uniform(0.0, 0.4))
                await bot.kill()
                await bot.start()
        expected = waves
        await until(lambda: all(replies_to(fake, u) >= expected for u in LEARNERS), 90)
        await asyncio.sleep(3)  # time for anything that would still be sent again
        counts = {user: replies_to(fake, user) for user in LEARNERS}
        lost = sum(max(0, expected - n) for n in counts.values())
        duplicates = sum(max(0, n - expected) for n in counts.values())
        statuses = await inbox_statuses(database_url)
        assert lost == 0
        assert statuses == {"done": waves * len(LEARNERS)}  # none pending, none set aside
        # At most the replies in flight at each kill: one per learner being answered.
        assert duplicates <= kills * len(LEARNERS), counts
    finally:
        await bot.stop()


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_kill_between_commit_and_send_delivers_the_reply_after_restart(
    fake: FakeBotAPI, database_url: str, framework: str, mode: str, tmp_path: Path
) -> None:
    bot = Bot(fake, database_url, framework, tmp_path, webhook=mode == "webhook")
    await bot.start()
    try:
        user = LEARNERS[0]
        # Every send fails while this process lives: the reply is committed, not delivered.
        fake.fail_next("sendMessage", 502, "Bad Gateway", times=1000)
        await bot.send(user, "/help")
        await until(lambda: fake.calls_of("sendMessage"), 30)
        await bot.kill()
        assert replies_to(fake, user) == 0
        fake.clear_faults()
        await bot.start()
        await until(lambda: replies_to(fake, user) >= 1, 30)
        await asyncio.sleep(3)
        assert replies_to(fake, user) == 1
        assert await inbox_statuses(database_url) == {"done": 1}
        assert await rows(database_url, "SELECT COUNT(*) FROM replies") == [(0,)]
    finally:
        await bot.stop()
