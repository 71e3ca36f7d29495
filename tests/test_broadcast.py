"""Broadcasts end to end: real aiogram over HTTP to the fake Bot API, a real SQLite outbox."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot.broadcast.hours import QuietHours
from bot.broadcast.message import BroadcastFile, Segment
from bot.broadcast.outbox import Outbox
from bot.broadcast.sender import Sender
from bot.channels.telegram.runner import open_deliverer
from bot.config import Settings
from bot.content import Library, load_library
from bot.store import create_engine, upgrade
from bot.store.models import Learner, LessonProgress
from tests.fakebotapi import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-broadcast"
NOON = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # midday in every country we serve


def message(**extra: Any) -> BroadcastFile:
    return BroadcastFile.model_validate(
        {
            "version": 1,
            "kind": "broadcast",
            "id": "test",
            "fallback_locale": "en",
            "text": {"en": "Hello {first_name}", "th": "สวัสดี {first_name}"},
            **extra,
        }
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(max_poll_wait=0.2) as server:
        yield server


@pytest.fixture
def settings(fake: FakeBotAPI, tmp_path: Path, database_url: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        bot_token=TOKEN,
        telegram_api_url=fake.url,
        database_url=database_url,
        lessons_dir=str(ROOT / "lessons"),
        locales_dir=str(ROOT / "locales"),
        broadcast_rate=200.0,
    )


@pytest.fixture(scope="module")
def library() -> Library:
    return load_library(ROOT / "lessons")[0]


PEOPLE = [  # (telegram id, locale, country)
    (101, "en", "PH"),
    (102, "th", "TH"),
    (103, "th", "TH"),
    (104, "vi", "VN"),
    (105, "id", "ID"),
    (106, "en", None),
    (107, "th", "TH"),
    (108, "en", "MY"),
]


@pytest.fixture
async def outbox(settings: Settings) -> AsyncIterator[Outbox]:
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Learner),
            [
                {
                    "channel": "telegram",
                    "external_id": str(uid),
                    "first_name": f"P{uid}",
                    "locale": loc,
                    "country": cc,
                    "status": "active",
                    "state": {},
                    "tags": [],
                    "created_at": NOON.replace(tzinfo=None),
                    "last_active_at": NOON.replace(tzinfo=None),
                }
                for uid, loc, cc in PEOPLE
            ],
        )
    yield Outbox(engine)
    await engine.dispose()


async def send_all(
    settings: Settings,
    outbox: Outbox,
    library: Library,
    msg: BroadcastFile,
    segment: Segment | None = None,
    **sender: Any,
) -> int:
    broadcast_id = await outbox.create(msg, segment or msg.segment, library, actor="test", now=NOON)
    started = time.monotonic()

    def midday() -> datetime:  # a clock that runs, from a time outside everyone's quiet hours
        return NOON + timedelta(seconds=time.monotonic() - started)

    async with open_deliverer(settings) as deliverer:
        run = Sender(
            outbox,
            deliverer,
            library,
            rate=settings.broadcast_rate,
            clock=sender.pop("clock", midday),
            backoff=0.01,
            **sender,
        )
        await run.run(broadcast_id)
    return broadcast_id


def texts_by_chat(fake: FakeBotAPI) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for call in fake.sent_messages():
        found.setdefault(int(call.params["chat_id"]), []).append(call.params["text"])
    return found


async def test_segment_and_locale_with_fallback(
    fake: FakeBotAPI, settings: Settings, outbox: Outbox, library: Library
) -> None:
    segment = Segment(country=("TH", "VN"))
    broadcast_id = await send_all(settings, outbox, library, message(), segment)
    got = texts_by_chat(fake)
    assert sorted(got) == [102, 103, 104, 107]
    assert got[102] == ["สวัสดี P102"]
    assert got[104] == ["Hello P104"]  # no Vietnamese text: the fallback
    assert (await outbox.counts(broadcast_id))["sent"] == 4


async def test_completed_and_active_segments(
    fake: FakeBotAPI, settings: Settings, outbox: Outbox, library: Library
) -> None:
    course = library.course("relief")
    assert course is not None
    async with outbox.engine.begin() as conn:
        learner = (
            await conn.execute(select(Learner.id).where(Learner.external_id == "105"))
        ).scalar_one()
        await conn.execute(
            insert(LessonProgress),
            [
                {
                    "learner_id": learner,
                    "course": "relief",
                    "lesson": le.id,
                    "status": "completed",
                    "score": 1,
                    "total": 1,
                    "started_at": NOON.replace(tzinfo=None),
                    "completed_at": NOON.replace(tzinfo=None),
                }
                for le in course.lessons
            ],
        )
    counted = await outbox.count_by_locale(Segment(completed="relief"), library, NOON)
    assert counted == {"id": 1}
    counted = await outbox.count_by_locale(
        Segment(enrolled="relief", locale=("en",)), library, NOON
    )
    assert counted == {}


async def test_quiet_hours_defer_until_morning_unless_urgent(
    fake: FakeBotAPI, settings: Settings, outbox: Outbox, library: Library
) -> None:
    late = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 22:00 in Bangkok, 23:00 in Manila
    segment = Segment(country=("TH",))
    broadcast_id = await outbox.create(message(), segment, library, actor="t", now=late)
    async with open_deliverer(settings) as deliverer:
        run = Sender(outbox, deliverer, library, clock=lambda: late, quiet=QuietHours())
        await run.run(broadcast_id)
    assert not fake.sent_messages()
    assert await outbox.next_due(broadcast_id) == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    urgent = await send_all(
        settings, outbox, library, message(urgent=True), segment, clock=lambda: late
    )
    assert (await outbox.counts(urgent))["sent"] == 3


async def test_429_pauses_all_sending(
    fake: FakeBotAPI, settings: Settings, outbox: Outbox, library: Library
) -> None:
    fake.fail_next("sendMessage", 429, retry_after=1)
    broadcast_id = await send_all(settings, outbox, library, message())
    calls = fake.calls_of("sendMessage")
    refused = next(c for c in calls if c.status == 429)
    retried = next(
        c
        for c in calls
        if c.status == 200
        and c.time > refused.time
        and c.params["chat_id"] == refused.params["chat_id"]
    )
    assert retried.time - refused.time >= 0.9
    # Sends already on the wire when the 429 came back arrive within milliseconds; every send
    # started after it waits out the pause, whichever chat it is for.
    started_later = [c.time - refused.time for c in calls if c.time - refused.time > 0.1]
    assert started_later and min(started_later) >= 0.9
    assert (await outbox.counts(broadcast_id))["sent"] == len(PEOPLE)


async def test_5xx_is_retried_then_fails_with_the_reason(
    fake: FakeBotAPI, settings: Settings, outbox: Outbox, library: Library
) -> None:
    fake.fail_next("sendMessage", 502, "Bad Gateway", times=2)
    broadcast_id = await send_all(settings, outbox, library, message())
    assert (await outbox.counts(broadcast_id))["sent"] == len(PEOPLE)
    fake.clear_calls()
    fake.fail_next("sendMessage", 500, "Internal Server Error", times=1000)
    broadcast_id = await send_all(settings, outbox, library, message(), max_attempts=3)
    counts = await outbox.counts(broadcast_id)
    assert counts["failed"] == len(PEOPLE)
    reasons = await outbox.failure_reasons(broadcast_id)
    assert reasons and all(
        r.startswith("gave up after 3 tries:") and "Internal Server Error" in r for r in reasons
    )


async def test_blocked_and_missing_chats(
    fake: FakeBotAPI, settings: Settings, outbox: Outbox, library: Library
) -> None:
    fake.block_chat(102)
    fake.chat_not_found(103)
    broadcast_id = await send_all(settings, outbox, library, message())
    counts = await outbox.counts(broadcast_id)
    assert (counts["sent"], counts["blocked"], counts["failed"]) == (len(PEOPLE) - 2, 1, 1)
    assert len([c for c in fake.calls_of("sendMessage") if c.status == 403]) == 1  # no retry
    async with outbox.engine.connect() as conn:
        status = (
            await conn.execute(select(Learner.status).where(Learner.external_id == "102"))
        ).scalar_one()
    assert status == "blocked"
    report = io.StringIO()
    assert await outbox.write_failures(broadcast_id, report) == 2
    assert report.getvalue().splitlines()[0] == (
        "telegram_id,locale,country,status,attempts,reason"
    )


async def test_cancel_skips_the_rest(
    fake: FakeBotAPI, settings: Settings, outbox: Outbox, library: Library
) -> None:
    later = message(schedule={"at": "2026-12-25T09:00:00+07:00"})
    broadcast_id = await outbox.create(later, later.segment, library, actor="t", now=NOON)
    assert await outbox.cancel(broadcast_id, "t", NOON) == len(PEOPLE)
    counts = await outbox.counts(broadcast_id)
    assert counts["skipped"] == len(PEOPLE) and counts["pending"] == 0


async def test_killed_send_resumes_with_nothing_lost(
    fake: FakeBotAPI, settings: Settings, tmp_path: Path, library: Library
) -> None:
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    people = 120
    async with engine.begin() as conn:
        await conn.execute(
            insert(Learner),
            [
                {
                    "channel": "telegram",
                    "external_id": str(5000 + i),
                    "first_name": "P",
                    "locale": "en",
                    "country": "TH",
                    "status": "active",
                    "state": {},
                    "tags": [],
                    "created_at": NOON.replace(tzinfo=None),
                    "last_active_at": NOON.replace(tzinfo=None),
                }
                for i in range(people)
            ],
        )
    await engine.dispose()
    fake.block_chat(5003)
    file = tmp_path / "alert.yaml"
    file.write_text(
        "version: 1\nkind: broadcast\nid: alert\nurgent: true\n"
        "text: {en: 'Scam alert {first_name}'}\n"
    )
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.url,
        "DATABASE_URL": settings.database_url,
        "LESSONS_DIR": settings.lessons_dir,
        "BROADCAST_RATE": "40",
    }

    async def lessonbot(*args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    proc = await lessonbot("broadcast", "send", str(file), "--yes")
    deadline = time.monotonic() + 60
    while len(fake.sent_messages()) < people // 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    assert 0 < len(fake.sent_messages()) < people
    proc = await lessonbot("broadcast", "resume")
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    per_chat = Counter(int(c.params["chat_id"]) for c in fake.sent_messages())
    reachable = {5000 + i for i in range(people)} - {5003}
    assert set(per_chat) == reachable  # everyone reachable got it
    assert max(per_chat.values()) <= 2  # at most one duplicate (the in-flight batch)
    assert "blocked 1" in out.decode() and f"sent {people - 1}" in out.decode()
