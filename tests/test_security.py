"""Secrets stay out of logs and error messages; learner text stays inert in HTML.

The other checks the issue lists live beside the behaviour they guard: the webhook secret
(test_telegram_e2e: webhook mode), forged and borrowed buttons (test_telegram_e2e,
test_telegram_units), admin-only commands and buttons (test_telegram_e2e: admin flows), and
YAML that can't run code or explode (test_lint_rules: aliases, tags, size).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.redact import MASK, RedactSecrets
from tests.fakebotapi import FakeBotAPI
from tests.test_telegram_e2e import ROOT, TOKEN, free_port

SECRET_HALF = TOKEN.split(":", 1)[1]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(max_poll_wait=0.2) as server:
        yield server


async def lessonbot_stderr(
    env: dict[str, str],
    cwd: Path,
    seconds: float,
    *args: str,
    until: Callable[[], bool] | None = None,
) -> tuple[int | None, str]:
    """Run `lessonbot -v ...` until it exits, `until()` holds, or `seconds` pass, then stop
    it; return its exit code and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "-v",
        *args,
        env={**os.environ, **env},
        cwd=cwd,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    assert proc.stderr is not None
    reading = asyncio.ensure_future(proc.stderr.read())  # a full pipe would block the bot

    async def done() -> None:
        # A slow machine takes seconds just to import aiogram: wait for what the test needs
        # to have happened, not for a fixed time.
        while until is not None and not until() and proc.returncode is None:
            await asyncio.sleep(0.1)
        if until is None:
            await proc.wait()

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done(), seconds)
    if proc.returncode is None:
        await asyncio.sleep(0.5)  # the last lines of the log
        proc.terminate()
        await proc.wait()
    return proc.returncode, (await reading).decode()


@pytest.mark.parametrize("framework", ["aiogram", "ptb"])
async def test_the_bot_token_never_reaches_the_log(
    fake: FakeBotAPI, tmp_path: Path, database_url: str, framework: str
) -> None:
    env = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.url,
        "TELEGRAM_FRAMEWORK": framework,
        "DATABASE_URL": database_url,
        "LESSONS_DIR": str(ROOT / "lessons"),
        "LOCALES_DIR": str(ROOT / "locales"),
        "WEBHOOK_URL": "",
    }
    # Errors are where URLs and tokens leak: 5xx on polling and sending, a 429, a forged button.
    fake.fail_next("getUpdates", 502, "Bad Gateway", times=2)
    fake.fail_next("sendMessage", 500, "Internal Server Error", times=2)
    fake.fail_next("sendMessage", 429, retry_after=1)
    fake.push_text(1001, "/start")
    fake.push_callback(1001, "o:forged:data", 1)
    fake.push_update({"message": {"garbage": True}})

    def through() -> bool:  # both failed polls, the reply's 500s and 429, and a reply
        sent = [c.status for c in fake.calls_of("sendMessage")]
        return len(fake.calls_of("getUpdates")) > 3 and 200 in sent and 429 in sent

    _, running = await lessonbot_stderr(env, tmp_path, 90, "run", until=through)
    # And a Bot API that can't be reached at all: the start-up error names the server.
    closed = {**env, "TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}"}
    code, unreachable = await lessonbot_stderr(closed, tmp_path, 30, "run")
    for stderr in (running, unreachable):
        assert TOKEN not in stderr and SECRET_HALF not in stderr
    assert "Bad Gateway" in running  # the failures were logged...
    if framework == "ptb":  # ...and httpx logs every request URL, with the token masked
        assert f"/bot{MASK}/getMe" in running
    assert code not in (None, 0) and unreachable.strip()


def test_redaction_covers_messages_arguments_and_tracebacks() -> None:
    redactor = RedactSecrets([TOKEN, "webhook-secret-value"])
    try:
        raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/getMe failed")
    except RuntimeError:
        record = logging.LogRecord(
            "x",
            logging.ERROR,
            __file__,
            1,
            "calling %s with %s",
            (f"/bot{TOKEN}/sendMessage", "webhook-secret-value"),
            sys.exc_info(),
        )
    redactor.filter(record)
    text = record.getMessage() + (record.exc_text or "")
    assert TOKEN not in text and SECRET_HALF not in text and "webhook-secret" not in text
    assert text.count(MASK) >= 3
