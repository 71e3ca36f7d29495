"""Several real processes on one database, as in production: two webhook web processes behind a
load balancer, two `lessonbot worker`s. On PostgreSQL they rely on row locks and SKIP LOCKED;
on SQLite the same tests are the "database is locked" check with concurrent writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import insert

from bot.broadcast.message import BroadcastFile, Segment
from bot.broadcast.outbox import Outbox
from bot.content import load_library
from bot.store import create_engine
from bot.store.models import Learner
from tests.databases import rows, saved_step
from tests.fakebotapi import FakeBotAPI
from tests.test_telegram_e2e import ROOT, TOKEN, free_port

pytestmark = pytest.mark.slow
SECRET = "multi-process-secret"
STEPS = 25  # message steps in the long lesson: one "next" each


def long_lesson(root: Path) -> Path:
    course = root / "lessons" / "long"
    course.mkdir(parents=True)
    (course / "course.yaml").write_text(
        "version: 1\nkind: course\nid: long\ntitle: Long\ndescription: d\nlessons: [steps]\n"
    )
    steps = "".join(
        f"  - {{id: s{i}, type: message, text: 'Step {i}'}}\n" for i in range(1, STEPS + 1)
    )
    (course / "01-steps.yaml").write_text(
        "version: 1\nkind: lesson\nid: steps\ntitle: Steps\nminutes: 5\nsteps:\n"
        + steps
        + "  - {id: done, type: end, text: Finished}\n"
    )
    return root / "lessons"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(max_poll_wait=0.2) as server:
        yield server


class Processes:
    def __init__(self, fake: FakeBotAPI, database_url: str, lessons: Path, cwd: Path) -> None:
        self.env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": fake.url,
            "DATABASE_URL": database_url,
            "LESSONS_DIR": str(lessons),
            "LOCALES_DIR": str(ROOT / "locales"),
            "WEBHOOK_SECRET": SECRET,
            "BROADCAST_RATE": "300",
            "REMIND_HOURS": "00:00-00:00",
        }
        self.cwd = cwd
        self.running: list[asyncio.subprocess.Process] = []

    async def start(self, *args: str, **env: str) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, env={**self.env, **env}, cwd=self.cwd
        )
        self.running.append(proc)
        return proc

    async def web(self) -> tuple[asyncio.subprocess.Process, str]:
        """A `lessonbot run --no-worker` webhook process; returns it and its update URL."""
        port = free_port()
        url = f"http://127.0.0.1:{port}/tg"
        proc = await self.start("run", "--no-worker", WEBHOOK_URL=url, PORT=str(port))
        async with aiohttp.ClientSession() as http:
            for _ in range(400):
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            return proc, url
                assert proc.returncode is None, "the web process died while starting"
                await asyncio.sleep(0.05)
        raise AssertionError("the web process did not start")

    async def stop(self) -> None:
        for proc in self.running:
            if proc.returncode is None:
                proc.terminate()
        for proc in self.running:
            await proc.wait()


@pytest.fixture
async def procs(fake: FakeBotAPI, database_url: str, tmp_path: Path) -> AsyncIterator[Processes]:
    group = Processes(fake, database_url, long_lesson(tmp_path), tmp_path)
    yield group
    await group.stop()


async def post(url: str, update: dict[str, Any]) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        ) as response,
    ):
        return response.status


async def quiet(fake: FakeBotAPI, settle: float = 0.5) -> None:
    count = -1
    while count != len(fake.calls):
        count = len(fake.calls)
        await asyncio.sleep(settle)


async def into_the_lesson(fake: FakeBotAPI, url: str, user: int, update_id: int) -> int:
    """/start long, English by typing, no profile: the learner is at step 1."""
    for text in ("/start long", "English", "Start learning"):
        update = fake.make_message(user, text)
        update["update_id"] = update_id
        update_id += 1
        assert await post(url, update) == 200
    return update_id


async def test_one_learners_updates_across_two_web_processes_lose_nothing(
    fake: FakeBotAPI, procs: Processes, database_url: str
) -> None:
    (_, first), (_, second) = await asyncio.gather(procs.web(), procs.web())
    user = 4242
    next_id = await into_the_lesson(fake, first, user, 1)
    await quiet(fake)  # the webhook answers once an update is stored: let the lesson open
    # Twenty "next"s at once, split between the two processes: each must see the state the
    # previous one left, or a step would be shown twice and the learner fall behind.
    updates = []
    for i in range(20):
        update = fake.make_message(user, "next")
        update["update_id"] = next_id + i
        updates.append(update)
    statuses = await asyncio.gather(
        *(post((first, second)[i % 2], u) for i, u in enumerate(updates))
    )
    assert set(statuses) == {200}
    # Telegram delivering one update again, to each process at once: handled once.
    again = await asyncio.gather(post(first, updates[-1]), post(second, updates[-1]))
    assert set(again) == {200}

    def shown_steps() -> list[str]:
        return [
            c.params["text"]
            for c in fake.sent_messages(user)
            if c.params.get("text", "").startswith("Step ")
        ]

    # The webhook answers once an update is stored; the replies follow, a little later.
    for _ in range(200):
        if len(shown_steps()) >= 21:
            break
        await asyncio.sleep(0.1)
    await quiet(fake)
    shown = shown_steps()
    assert sorted(shown, key=lambda t: int(t.split()[1])) == [
        f"Step {i}" for i in range(1, 22)
    ]  # step 1 on entry, then one per "next", no repeats
    assert await saved_step(database_url, str(user)) == "s21"


async def test_a_killed_web_process_loses_no_progress(
    fake: FakeBotAPI, procs: Processes, database_url: str
) -> None:
    (doomed, first), (_, second) = await asyncio.gather(procs.web(), procs.web())
    user = 777
    next_id = await into_the_lesson(fake, first, user, 1)
    await quiet(fake)  # the webhook answers once an update is stored: let its replies go out
    fake.delay(3.0)  # the reply is on the wire when the process dies
    update = fake.make_message(user, "next")
    update["update_id"] = next_id
    pending = asyncio.ensure_future(post(first, update))
    for _ in range(200):
        if any(c.params.get("text") == "Step 2" for c in fake.calls_of("sendMessage")):
            break
        await asyncio.sleep(0.02)
    doomed.send_signal(signal.SIGKILL)
    await doomed.wait()
    with contextlib.suppress(aiohttp.ClientError):
        await pending  # stored and answered 200 before the kill
    fake.delay(0)
    # Telegram delivers it again anyway (as after any doubt), to the other process.
    assert await post(second, update) == 200
    continued = fake.make_message(user, "/continue")
    continued["update_id"] = next_id + 1
    assert await post(second, continued) == 200
    await quiet(fake)
    # The update ran once: the learner is on step 2, not 3; /continue shows it.
    texts = [c.params.get("text") for c in fake.sent_messages(user)]
    assert texts[-1] == "Step 2" and "Step 3" not in texts
    [(count,)] = await rows(database_url, "SELECT count(*) FROM events WHERE name = 'step_shown'")
    assert count == 2


async def test_two_workers_send_each_broadcast_and_reminder_once(
    fake: FakeBotAPI, procs: Processes, database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    long_ago = now - timedelta(days=10)
    people = [
        {
            "channel": "telegram",
            "external_id": str(9000 + i),
            "first_name": f"P{i}",
            "locale": "en",
            "country": "TH",
            "status": "active",
            "state": {},
            "tags": [],
            "created_at": long_ago,
            "last_active_at": long_ago,
            # the first 40 stopped mid-lesson: each is due one reminder
            "resume_lesson": "long/steps" if i < 40 else None,
        }
        for i in range(200)
    ]
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(insert(Learner), people)
    library, _ = load_library(long_lesson(tmp_path / "content"))
    message = BroadcastFile.model_validate(
        {
            "version": 1,
            "kind": "broadcast",
            "id": "alert",
            "urgent": True,
            "text": {"en": "Alert for {first_name}"},
        }
    )
    await Outbox(engine).create(message, Segment(), library, actor="test", now=datetime.now(UTC))
    await engine.dispose()
    await asyncio.gather(procs.start("worker"), procs.start("worker"))
    deadline = asyncio.get_running_loop().time() + 90
    while asyncio.get_running_loop().time() < deadline:
        alerts = [c for c in fake.sent_messages() if "Alert" in c.params.get("text", "")]
        reminders = [c for c in fake.sent_messages() if "You stopped" in c.params.get("text", "")]
        if len(alerts) >= 200 and len(reminders) >= 40:
            break
        await asyncio.sleep(0.2)
    await quiet(fake, settle=1.5)
    alerts = Counter(
        c.params["chat_id"] for c in fake.sent_messages() if "Alert" in c.params.get("text", "")
    )
    reminders = Counter(
        c.params["chat_id"]
        for c in fake.sent_messages()
        if "You stopped" in c.params.get("text", "")
    )
    assert len(alerts) == 200 and set(alerts.values()) == {1}
    assert len(reminders) == 40 and set(reminders.values()) == {1}
    assert await rows(database_url, "SELECT status, count(*) FROM outbox GROUP BY status") == [
        ("sent", 200)
    ]
