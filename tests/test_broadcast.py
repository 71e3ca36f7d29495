"""Broadcasts end to end: real aiogram over HTTP to the fake Bot API, a real SQLite outbox."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from bot.broadcast.hours import QuietHours
from bot.broadcast.message import BroadcastFile, Segment
from bot.broadcast.outbox import HOST, RUNNING, Outbox
from bot.broadcast.sender import Sender
from bot.channels.delivery import Delivered, Rejected, RetryLater, Transient, Unreachable
from bot.channels.telegram.broadcasts import read_answer
from bot.channels.telegram.runner import open_deliverer
from bot.config import Settings
from bot.content import Library, load_library
from bot.store import create_engine, upgrade
from bot.store.models import BroadcastSender, Learner, LessonProgress, OutboxRow
from tests.databases import rows, sqlite_only
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
        "channel,external_id,locale,country,status,attempts,reason"
    )


async def test_cancel_skips_the_rest(
    fake: FakeBotAPI, settings: Settings, outbox: Outbox, library: Library
) -> None:
    later = message(schedule={"at": "2026-12-25T09:00:00+07:00"})
    broadcast_id = await outbox.create(later, later.segment, library, actor="t", now=NOON)
    assert await outbox.cancel(broadcast_id, "t", NOON) == len(PEOPLE)
    counts = await outbox.counts(broadcast_id)
    assert counts["skipped"] == len(PEOPLE) and counts["pending"] == 0


def add_learners(ids: list[int]) -> list[dict[str, Any]]:
    return [
        {
            "channel": "telegram",
            "external_id": str(uid),
            "first_name": "P",
            "locale": "en",
            "country": "TH",
            "status": "active",
            "state": {},
            "tags": [],
            "created_at": NOON.replace(tzinfo=None),
            "last_active_at": NOON.replace(tzinfo=None),
        }
        for uid in ids
    ]


async def test_a_killed_send_duplicates_at_most_two_in_total_and_resumes_at_once(
    fake: FakeBotAPI, settings: Settings, tmp_path: Path
) -> None:
    # The message-path issue's scenario: 300 learners, 10 of them blocked, a 429 every 41st
    # send and a 500 every 59th, BROADCAST_RATE=100, and `broadcast send` SIGKILLed the
    # moment the 120th message is delivered (its answer never gets back to the sender).
    people = [7000 + i for i in range(300)]
    blocked = set(people[5::30])
    assert len(blocked) == 10
    engine = create_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(insert(Learner), add_learners(people))
    await engine.dispose()
    for chat in blocked:
        fake.block_chat(chat)
    fake.fail_every("sendMessage", 41, 429, retry_after=1)
    fake.fail_every("sendMessage", 59, 500, "Internal Server Error")
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
        "BROADCAST_RATE": "100",
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

    def delivered() -> list[Any]:
        return [c for c in fake.sent_messages() if "Scam alert" in c.params.get("text", "")]

    proc = await lessonbot("broadcast", "send", str(file), "--yes")
    killed = asyncio.Event()

    def kill_at_the_120th(call: Any) -> None:
        if not killed.is_set() and call.method == "sendMessage" and len(delivered()) >= 120:
            proc.send_signal(signal.SIGKILL)  # before the fake answers this very call
            killed.set()

    fake.listeners.append(kill_at_the_120th)
    try:
        await asyncio.wait_for(killed.wait(), 60)
    finally:
        fake.listeners.remove(kill_at_the_120th)
    _, err = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()
    before = len(delivered())
    assert 120 <= before < 300

    started = time.monotonic()
    proc = await lessonbot("broadcast", "resume")
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    took = time.monotonic() - started
    assert proc.returncode == 0, err.decode()
    # No lease to wait out: the dead sender's rows were taken over at once. (The old lease
    # alone was 120 s; this resume sends 180 messages at 100/s through eight 1 s pauses.)
    assert took < 60, took

    per_chat = Counter(int(c.params["chat_id"]) for c in delivered())
    reachable = set(people) - blocked
    assert set(per_chat) == reachable  # nobody reachable was lost
    duplicates = sum(n - 1 for n in per_chat.values())
    refused = Counter(
        int(c.params["chat_id"])
        for c in fake.calls_of("sendMessage")
        if c.status == 403 and int(c.params["chat_id"]) in blocked
    )
    assert set(refused) == blocked  # each blocked learner was tried, and nothing reached them
    tried_again = sum(n - 1 for n in refused.values())
    # The documented window at BROADCAST_RATE=100: two sends in flight, in total.
    assert duplicates + tried_again <= 2, (duplicates, tried_again)
    assert "sent 290" in out.decode() and "blocked 10" in out.decode(), out.decode()
    assert await rows(
        settings.database_url, "SELECT status, count(*) FROM outbox GROUP BY status ORDER BY 1"
    ) == [("blocked", 10), ("sent", 290)]
    marked = await rows(
        settings.database_url, "SELECT external_id FROM learners WHERE status = 'blocked'"
    )
    assert {int(uid) for (uid,) in marked} == blocked
    assert await rows(settings.database_url, "SELECT count(*) FROM broadcast_senders") == [(0,)]


async def test_a_photo_is_uploaded_once_per_broadcast(
    fake: FakeBotAPI, settings: Settings, outbox: Outbox, library: Library, tmp_path: Path
) -> None:
    people = [8000 + i for i in range(20)]
    async with outbox.engine.begin() as conn:
        await conn.execute(insert(Learner), add_learners(people))
    photo = tmp_path / "poster.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64)
    msg = message(media=str(photo))
    broadcast_id = await send_all(
        settings, outbox, library, msg, Segment(country=("TH",)), workers=8
    )
    photos = fake.calls_of("sendPhoto")
    chats = {int(c.params["chat_id"]) for c in photos}
    assert chats == set(people) | {102, 103, 107}  # every Thai learner got the picture...
    uploads = [c for c in photos if c.files]
    assert len(uploads) == 1  # ...uploaded once
    [file_id] = {p["file_id"] for p in uploads[0].result["photo"]}
    assert all(c.params["photo"] == file_id for c in photos if not c.files)
    assert all(c.status == 200 for c in photos)
    assert (await outbox.counts(broadcast_id))["sent"] == len(chats)
    found = await outbox.get(broadcast_id)
    assert found is not None and found.photo_id == file_id  # a resumed run reuses it too


async def test_one_failing_send_fails_nobody_else(
    fake: FakeBotAPI, settings: Settings, outbox: Outbox, library: Library
) -> None:
    # A surprise from the library (here: what a non-JSON answer raises) on one chat's sends.
    async with open_deliverer(settings) as deliverer:

        class Garbled:
            channel = "telegram"
            capabilities = deliverer.capabilities

            async def send(self, external_id: str, *args: Any, **kwargs: Any) -> Delivered:
                if external_id == "104":
                    raise ValueError("Expecting value: line 1 column 1 (char 0)")
                return await deliverer.send(external_id, *args, **kwargs)

        broadcast_id = await outbox.create(message(), Segment(), library, actor="test", now=NOON)
        started = time.monotonic()
        run = Sender(
            outbox,
            Garbled(),
            library,
            rate=200,
            clock=lambda: NOON + timedelta(seconds=time.monotonic() - started),
            backoff=0.01,
            max_attempts=2,
        )
        await run.run(broadcast_id)
    assert await outbox.counts(broadcast_id) == {
        "pending": 0,
        "sending": 0,
        "sent": len(PEOPLE) - 1,
        "failed": 1,
        "blocked": 0,
        "skipped": 0,
    }
    assert await outbox.failure_reasons(broadcast_id) == {
        "gave up after 2 tries: ValueError: Expecting value: line 1 column 1 (char 0)": 1
    }
    assert sorted(texts_by_chat(fake)) == sorted(uid for uid, _, _ in PEOPLE if uid != 104)
    assert (run.tally.sent, run.tally.failed) == (len(PEOPLE) - 1, 1)


async def test_a_stopped_sender_finishes_what_is_on_the_wire(
    fake: FakeBotAPI, settings: Settings, outbox: Outbox, library: Library
) -> None:
    # A SIGTERM (a deploy) cancels the sender: the sends already on the wire are answered and
    # recorded before it stops, and the rows it had queued go back; a new run sends the rest.
    people = [8100 + i for i in range(40)]
    async with outbox.engine.begin() as conn:
        await conn.execute(insert(Learner), add_learners(people))
    fake.delay(0.3)
    broadcast_id = await outbox.create(message(), Segment(), library, actor="test", now=NOON)
    async with open_deliverer(settings) as deliverer:
        run = Sender(outbox, deliverer, library, rate=200, clock=lambda: NOON)
        sending = asyncio.create_task(run.run(broadcast_id))
        while len(fake.calls_of("sendMessage")) < 6:
            await asyncio.sleep(0.01)
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        first = len(fake.sent_messages())
        counts = await outbox.counts(broadcast_id)
        assert counts["sent"] == first and counts["sending"] == 0
        assert 0 < first < len(PEOPLE) + len(people)
        fake.delay(0)
        await Sender(outbox, deliverer, library, rate=200, clock=lambda: NOON).run(broadcast_id)
    per_chat = Counter(int(c.params["chat_id"]) for c in fake.sent_messages())
    assert set(per_chat.values()) == {1}
    assert len(per_chat) == len(PEOPLE) + len(people)


async def test_rows_of_a_dead_sender_are_taken_over_at_once(
    settings: Settings, outbox: Outbox, library: Library
) -> None:
    broadcast_id = await outbox.create(message(), Segment(), library, actor="test", now=NOON)
    held = await outbox.claim(NOON, 8, "alive", broadcast_id)
    assert len(held) == len(PEOPLE)
    ids = [row.row_id for row in held]
    now = datetime.now(UTC).replace(tzinfo=None)
    long_ago = now - timedelta(seconds=30)
    owners = {
        "alive": ids[0:2],  # a run of this process, beating
        "stale": ids[2:4],  # another host's sender that stopped beating
        "exited": ids[4:5],  # a process on this host that is gone
        "restarted": ids[5:6],  # an earlier process with our pid (a restarted container)
        "absent": ids[6:8],  # no heartbeat at all
    }
    beats = [("stale", "elsewhere", 1, long_ago), ("exited", HOST, dead_pid(), now)]
    beats.append(("restarted", HOST, os.getpid(), now))
    async with outbox.engine.begin() as conn:
        for owner, some in owners.items():
            await conn.execute(update(OutboxRow).where(OutboxRow.id.in_(some)).values(owner=owner))
        await conn.execute(
            insert(BroadcastSender),
            [
                {"owner": o, "host": h, "pid": pid, "started_at": at, "beat_at": at}
                for o, h, pid, at in beats
            ],
        )
    RUNNING.add("alive")
    try:
        peek = await outbox.peek(broadcast_id)
        assert peek.reclaimable and peek.elsewhere
        assert await outbox.reclaim(broadcast_id) == 6
        assert set(
            await rows(
                settings.database_url, "SELECT owner, status, count(*) FROM outbox GROUP BY 1, 2"
            )
        ) == {(None, "pending", 6), ("alive", "sending", 2)}
        assert await rows(settings.database_url, "SELECT owner FROM broadcast_senders") == [
            ("alive",)
        ]
        assert not (await outbox.peek(broadcast_id)).reclaimable
        assert await outbox.reclaim(broadcast_id) == 0
    finally:
        RUNNING.discard("alive")


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@sqlite_only
async def test_an_idle_sender_takes_no_write_lock(
    settings: Settings, outbox: Outbox, library: Library, tmp_path: Path
) -> None:
    done = await outbox.create(message(), Segment(), library, actor="test", now=NOON)
    await outbox.cancel(done, "test", NOON)
    peeks = 0
    peek = outbox.peek

    async def counted(*args: Any) -> Any:
        nonlocal peeks
        peeks += 1
        return await peek(*args)

    outbox.peek = counted  # type: ignore[method-assign]
    database = settings.database_url.split("///", 1)[1]
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # someone else holds the write lock all along
    try:
        async with open_deliverer(settings) as deliverer:
            run = Sender(outbox, deliverer, library, clock=lambda: NOON)
            worker = asyncio.create_task(run.run(until_done=False))
            await asyncio.sleep(2.5)
            assert not worker.done()
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert peeks >= 2  # it kept looking, never stuck behind the lock


@pytest.mark.parametrize(
    ("status", "body", "raised"),
    [
        (200, '{"ok": true, "result": {"message_id": 7}}', None),
        (429, '{"ok": false, "error_code": 429, "description": "Too Many Requests: retry '
         'after 3", "parameters": {"retry_after": 3}}', RetryLater),
        (403, '{"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked '
         'by the user"}', Unreachable),
        (400, '{"ok": false, "error_code": 400, "description": "Bad Request: chat not '
         'found"}', Unreachable),
        (400, '{"ok": false, "error_code": 400, "description": "Bad Request: message text '
         'is empty"}', Rejected),
        (500, '{"ok": false, "error_code": 500, "description": "Internal Server Error"}',
         Transient),
        (502, "<html><body><h1>502 Bad Gateway</h1></body></html>", Transient),
        (200, "<html>not json</html>", Transient),
        (200, '["ok"]', Transient),
    ],
)  # fmt: skip
def test_a_plain_send_reads_the_answer_as_the_adapters_do(
    status: int, body: str, raised: type[Exception] | None
) -> None:
    if raised is None:
        assert read_answer(status, body) == 7
        return
    with pytest.raises(raised) as caught:
        read_answer(status, body)
    if raised is RetryLater:
        assert caught.value.seconds == 3  # type: ignore[attr-defined]
