"""The attacks that broke a real `lessonbot run`, repeated against a real `lessonbot run`: a
process of its own, configured by its environment, through the fake Bot API and its webhook."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.databases import rows
from tests.fakebotapi import FakeBotAPI
from tests.test_admin_e2e import ALERT, LEARNER, alerts, to_the_send_button
from tests.test_telegram_e2e import (  # the Telegram harness and its fixtures
    ANA,
    ROOT,
    TOKEN,
    Harness,
    fake,  # noqa: F401
    free_port,
)
from tests.test_telegram_e2e import settings_for as telegram_settings

pytestmark = pytest.mark.slow

SECRET = "an-attack-test-webhook-secret"


class Bot:
    """`python -m bot run` in a process of its own; its stderr is kept to search."""

    def __init__(self, fake: FakeBotAPI, env: dict[str, str], cwd: Path) -> None:
        self.fake, self.env, self.cwd = fake, env, cwd
        self.proc: asyncio.subprocess.Process | None = None
        self._stderr: asyncio.Future[bytes] | None = None

    async def __aenter__(self) -> Bot:
        self.fake.clear_calls()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env={**os.environ, **self.env},
            cwd=self.cwd,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        self._stderr = asyncio.ensure_future(self.proc.stderr.read())
        for _ in range(900):  # started: its last call of start-up (a slow machine takes ~10 s)
            if self.fake.calls_of("setChatMenuButton") or self.proc.returncode is not None:
                break
            await asyncio.sleep(0.1)
        assert self.fake.calls_of("setChatMenuButton"), await self.stop()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def stop(self) -> str:
        """Stop it (SIGTERM, as a platform does); its stderr."""
        assert self.proc is not None and self._stderr is not None
        if self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()
        return (await self._stderr).decode()


def environment(fake: FakeBotAPI, database_url: str, tmp_path: Path, **more: str) -> dict[str, str]:
    folder = tmp_path / "broadcasts"
    folder.mkdir(exist_ok=True)
    (folder / "alert.yaml").write_text(ALERT)
    return {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.url,
        "TELEGRAM_FRAMEWORK": "aiogram",
        "DATABASE_URL": database_url,
        "LESSONS_DIR": str(ROOT / "lessons"),
        "LOCALES_DIR": str(ROOT / "locales"),
        "BROADCASTS_DIR": str(folder),
        "WEBHOOK_URL": "",
        "ADMIN_IDS": str(ANA),
        **more,
    }


async def test_hostile_webhook_calls_get_4xx_from_a_real_process(
    fake: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg/hook"
    env = environment(
        fake, database_url, tmp_path, WEBHOOK_URL=url, WEBHOOK_SECRET=SECRET, PORT=str(port)
    )
    async with Bot(fake, env, tmp_path) as bot, aiohttp.ClientSession() as http:
        for _ in range(200):  # it listens right after setWebhook
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with http.get(f"http://127.0.0.1:{port}/healthz"):
                    break
            await asyncio.sleep(0.05)
        # A secret header of raw bytes that are not UTF-8, sent as a client can.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = b'{"update_id": 1}'
        writer.write(
            b"POST /tg/hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-Telegram-Bot-Api-Secret-Token: \xff\xfe" + SECRET.encode() + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )
        await writer.drain()
        status_line = await reader.readline()
        writer.close()
        assert status_line.split()[1] == b"401"
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        nested = b"[" * 300_000 + b"]" * 300_000  # under the 1 MiB limit: read, and refused
        async with http.post(url, data=nested, headers=headers) as response:
            assert response.status == 400
        stderr = await bot.stop()
    assert "Traceback" not in stderr and "Error handling request" not in stderr


async def test_a_short_webhook_secret_stops_a_real_process_with_the_fix(
    fake: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    env = environment(fake, database_url, tmp_path, WEBHOOK_URL="http://x/h", WEBHOOK_SECRET="a")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env={**os.environ, **env},
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 2
    assert "WEBHOOK_SECRET must be at least 16 characters" in stderr.decode()
    assert not fake.calls  # refused before it said a word to Telegram


async def test_send_now_twice_and_admin_ids_emptied_in_real_processes(
    fake: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    env = environment(fake, database_url, tmp_path)
    harness = Harness(fake, telegram_settings(fake, database_url, "aiogram"))  # to talk, only
    async with Bot(fake, env, tmp_path):
        data, mid = await to_the_send_button(harness)
        fake.push_callback(ANA, data, mid)  # a double tap
        fake.push_callback(ANA, data, mid)
        await harness.until(lambda: alerts(fake, LEARNER))
        await harness.quiet(ANA, settle=1.0)
    assert await rows(database_url, "SELECT count(*) FROM broadcasts") == [(1,)]
    assert alerts(fake, LEARNER) == ["Scam alert, Test!"]

    async with Bot(fake, {**env, "ADMIN_IDS": ""}, tmp_path):  # restarted without the admin
        refused = await harness.say("/stats")
        assert "I don't know that command." in refused[0].params["text"]
    assert await rows(database_url, "SELECT count(*) FROM roles") == [(0,)]
