"""SIGKILL of a real `lessonbot run` serving WhatsApp loses no message and answers each once.

Learners write while the process is killed at random moments; Meta's delivery is modelled as it
works: the same webhook body again until it gets a 200. Afterwards every message has its one
reply, nothing is pending, and duplicates stay within the documented window (a kill can send
again only the replies in flight: at most one per learner being answered).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.fakewhatsapp import FakeCloudApi
from tests.test_crash_e2e import inbox_statuses, until
from tests.test_telegram_e2e import ROOT, free_port

pytestmark = pytest.mark.slow
LEARNERS = ["6281200000001", "6281200000002", "60120000003", "6591000004", "66810000005"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeCloudApi]:
    async with FakeCloudApi() as server:
        yield server


class Bot:
    def __init__(self, fake: FakeCloudApi, database_url: str, cwd: Path) -> None:
        self.port = free_port()
        fake.webhook_url = f"http://127.0.0.1:{self.port}/whatsapp"
        self.env = {
            **os.environ,
            "BOT_TOKEN": "",
            "WHATSAPP_TOKEN": fake.token,
            "WHATSAPP_PHONE_NUMBER_ID": fake.phone_number_id,
            "WHATSAPP_APP_SECRET": fake.app_secret,
            "WHATSAPP_VERIFY_TOKEN": "verify-me-please",
            "WHATSAPP_API_URL": fake.url,
            "DATABASE_URL": database_url,
            "LESSONS_DIR": str(ROOT / "lessons"),
            "LOCALES_DIR": str(ROOT / "locales"),
            "PORT": str(self.port),
        }
        self.cwd = cwd
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=self.env, cwd=self.cwd
        )
        await until(self._listening, 60)

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
        self.proc.kill()
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            assert await self.proc.wait() == 0


async def test_random_kills_lose_nothing(
    fake: FakeCloudApi, database_url: str, tmp_path: Path
) -> None:
    rng = random.Random("whatsapp")  # the same moments on every run
    bot = Bot(fake, database_url, tmp_path)
    await bot.start()
    waves, kills = 8, 3
    kill_after = sorted(rng.sample(range(1, waves), kills))
    sending: list[asyncio.Task[None]] = []
    try:
        for wave in range(waves):
            for user in LEARNERS:
                sending.append(asyncio.create_task(fake.user_sends_retried(user, "/help")))
            if wave in kill_after:
                await asyncio.sleep(rng.uniform(0.0, 0.4))
                await bot.kill()
                await bot.start()
        await asyncio.gather(*sending)

        def replies(user: str) -> int:
            return len(fake.messages_to(user))

        await until(lambda: all(replies(u) >= waves for u in LEARNERS), 90)
        await asyncio.sleep(3)  # time for anything that would still be sent again
        counts = {user: replies(user) for user in LEARNERS}
        assert sum(max(0, waves - n) for n in counts.values()) == 0  # none lost
        assert await inbox_statuses(database_url) == {"done": waves * len(LEARNERS)}
        assert sum(max(0, n - waves) for n in counts.values()) <= kills * len(LEARNERS), counts
        assert fake.rejected == []
    finally:
        for task in sending:
            task.cancel()
        await bot.stop()
