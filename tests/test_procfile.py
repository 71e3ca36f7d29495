"""The Procfile under honcho, as a deployer runs it: `honcho start` keeps web and worker up.

A `release:` line used to end the whole group seconds after start (honcho and foreman stop every
process when one exits), and `sh -c` without `exec` reported a clean stop as rc -15.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.fakebotapi import FakeBotAPI
from tests.test_telegram_e2e import ROOT, TOKEN, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(max_poll_wait=0.2) as server:
        yield server


async def healthy(port: int, honcho: asyncio.subprocess.Process) -> bool:
    """Whether the web process answers /healthz before honcho stops (or 30 s pass)."""
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if honcho.returncode is not None:
                return False
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return True
            await asyncio.sleep(0.05)
    return False


@pytest.mark.sqlite_only
async def test_honcho_start_keeps_web_and_worker_running_and_stops_cleanly(
    fake: FakeBotAPI, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "LESSONS_DIR": str(ROOT / "lessons"),
        "LOCALES_DIR": str(ROOT / "locales"),
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/tg",
        "WEBHOOK_SECRET": "procfile-webhook-secret",
        "PORT": str(port),
        # honcho runs each line with `sh -c`; `lessonbot` must be the one of this environment
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("PYTHONPATH", None)
    honcho = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "honcho",
        "-f",
        str(ROOT / "Procfile"),
        "-d",
        str(tmp_path),
        "start",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    up = await healthy(port, honcho)
    if up:
        # Longer than the old group lived (about 3 s): neither process may have ended.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(honcho.wait()), timeout=6)
    alive = honcho.returncode is None
    if alive:
        honcho.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(honcho.communicate(), timeout=60)
    log = output.decode()
    assert up and alive, log
    stopped = dict(re.findall(r"(web\.1|worker\.1) stopped \(rc=(-?\d+)\)", log))
    assert stopped == {"web.1": "0", "worker.1": "0"}, log
    assert "Traceback" not in log
