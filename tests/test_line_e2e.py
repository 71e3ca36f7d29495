"""`lessonbot run` on LINE only, over real HTTP, against the fake Messaging API.

What a programme in Thailand gets: the webhook's signature check, a whole course in Thai (tapped
and typed) with its certificate's code, replies carried free by the reply token, a redelivered
event answered once, blocking and unblocking followed, and a broadcast pushed with retry keys
that stops at the monthly quota, the rows past it waiting for next month.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.broadcast import commands
from bot.channels.line.client import next_month
from bot.content import load_library
from bot.store import create_engine
from bot.store.models import Certificate, Learner, OutboxRow
from tests.channel_drivers import ROOT, Mode, until, walk
from tests.fakeline import RATE_LIMITED
from tests.line_driver import SOMCHAI, LineDriver, learner_on_line

pytestmark = pytest.mark.slow
LIBRARY, _ = load_library(ROOT / "lessons")


@pytest.fixture
async def somchai(database_url: str) -> AsyncIterator[LineDriver]:
    async with learner_on_line(database_url) as driver:
        assert isinstance(driver, LineDriver)
        yield driver


async def status_of(driver: LineDriver, address: str) -> str:
    engine = create_engine(driver.settings.database_url)
    try:
        async with engine.connect() as conn:
            query = select(Learner.status).where(Learner.external_id == address)
            return str((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()


async def test_unsigned_and_forged_posts_get_401_and_are_not_read(somchai: LineDriver) -> None:
    event = somchai.fake.event(SOMCHAI, "follow")
    body = json.dumps({"destination": "x", "events": [event]}).encode()
    assert await somchai.fake.post_raw(body) == 401
    assert await somchai.fake.post_raw(body, signature="bad") == 401
    assert await somchai.fake.post_raw(body, signature="A" * 44) == 401
    assert await somchai.fake.post_raw(b"not json", signature=somchai.fake.sign(b"not json")) == 400
    assert somchai.fake.calls == []  # nothing was read, so nothing answered


@pytest.mark.parametrize("mode", ["tapped", "typed"])
async def test_a_whole_course_in_thai(somchai: LineDriver, mode: Mode) -> None:
    state = await walk(somchai, LIBRARY, "digital-marketing", "th", mode)
    assert state.locale == "th"
    fake = somchai.fake
    # Every message kept LINE's rules (the fake refused none), and every turn was answered by
    # its free reply token: nothing counted against the monthly quota.
    assert fake.rejected == []
    assert {s.kind for s in fake.sent} == {"reply"} and fake.usage == 0
    assert all(len(s.messages) <= 5 for s in fake.sent)
    quick = [m["quickReply"]["items"] for m in somchai.sent() if "quickReply" in m]
    if mode == "tapped":
        assert quick and max(len(items) for items in quick) <= 13
        assert all(len(i["action"]["label"]) <= 20 for items in quick for i in items)
        assert all(i["action"]["displayText"] == i["action"]["label"] for i in quick[0])
    # The certificate came as its text, with the code anyone can check with /verify.
    engine = create_engine(somchai.settings.database_url)
    try:
        async with engine.connect() as conn:
            code = (await conn.execute(select(Certificate.code))).scalar_one()
    finally:
        await engine.dispose()
    assert any(code in text for text in somchai.texts())


async def test_a_redelivered_event_is_answered_once(somchai: LineDriver) -> None:
    await somchai.type("/start")
    answered = len(somchai.sent())
    assert await somchai.fake.redeliver_last() == 200
    await somchai.type("/progress")  # something after it, so the redelivery had its chance
    assert len([t for t in somchai.texts()[answered:] if "🌏" in t]) == 0


async def eventually_status(driver: LineDriver, address: str, wanted: str) -> None:
    for _ in range(200):
        if await status_of(driver, address) == wanted:
            return
        await asyncio.sleep(0.05)
    assert await status_of(driver, address) == wanted


async def test_follow_greets_and_unfollow_blocks(
    somchai: LineDriver,
) -> None:
    await somchai._after(lambda: somchai.fake.user_follows(SOMCHAI, name="สมชาย"))
    assert "🌏" in " ".join(somchai.texts())  # a follow is a /start: the language question
    assert await somchai.fake.user_blocks(SOMCHAI) == 200
    await eventually_status(somchai, SOMCHAI, "blocked")
    await somchai._after(lambda: somchai.fake.user_follows(SOMCHAI))
    await eventually_status(somchai, SOMCHAI, "active")
    await somchai.type("/progress")
    assert {s.kind for s in somchai.fake.sent} == {"reply"} and somchai.fake.rejected == []


async def test_a_broadcast_stops_at_the_monthly_quota(
    somchai: LineDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where the list of who did not get it is written
    third = LineDriver(somchai.fake, somchai.settings, "U" + "c" * 32)
    third.task = somchai.task
    learners = [somchai, somchai.twin(), third]
    for learner in learners:
        await learner.type("/start")
    fake = somchai.fake
    assert fake.usage == 0  # every answer so far rode on a reply token
    fake.quota = 2
    path = tmp_path / "grant.yaml"
    path.write_text(
        "version: 1\nkind: broadcast\nid: grant\nurgent: true\n"  # whatever the hour
        "text:\n  en: '<b>New grant</b>: applications close on 31 December.'\n"
        "  th: '<b>ทุนใหม่</b>: ปิดรับสมัคร 31 ธันวาคม'\n"
    )
    out = io.StringIO()
    settings = somchai.settings
    assert await commands.send(settings, path, [], None, dry_run=True, yes=True, out=out) == 0
    preview = out.getvalue()
    assert "On line: 3 learner(s)" in preview and "2 left this month" in preview
    assert "over the quota, they wait for next month: 1" in preview
    assert fake.sends("push") == []
    out = io.StringIO()
    assert (
        await commands.send(somchai.settings, path, [], None, dry_run=False, yes=True, out=out) == 0
    )
    told = out.getvalue()  # what the admin reads at the end of the run
    assert "line: 1 wait for the channel's quota until" in told
    assert "monthly message quota (2) is used up" in told
    pushes = fake.sends("push")
    assert len(pushes) == 2 and fake.rejected == []  # the third was not even attempted
    keys = {str(p.retry_key) for p in pushes}
    assert len(keys) == 2 and all(uuid.UUID(key) for key in keys)
    assert all("ทุนใหม่" in p.messages[0]["text"] for p in pushes)
    engine = create_engine(somchai.settings.database_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(OutboxRow.status, OutboxRow.next_attempt_at, OutboxRow.last_error)
                )
            ).all()
    finally:
        await engine.dispose()
    assert sorted(r[0] for r in rows) == ["pending", "sent", "sent"]
    waiting = next(r for r in rows if r[0] == "pending")
    assert waiting[1].replace(tzinfo=UTC) == next_month(datetime.now(UTC))
    assert "quota" in str(waiting[2])


async def test_a_reply_held_past_its_tokens_minute_is_pushed(somchai: LineDriver) -> None:
    await somchai.type("/start")
    fake = somchai.fake
    fake.fail_next("rate", on="reply")  # the service waits the 429 out...
    assert await fake.user_says(SOMCHAI, "/progress") == 200
    await until(lambda: fake.rejected, somchai.task)
    fake.advance(minutes=2)  # ...long enough, on LINE's clock, for the token to expire
    await until(lambda: fake.sends("push"), somchai.task)
    assert [c.response["message"] for c in fake.rejected] == [RATE_LIMITED, "Invalid reply token"]
    [push] = fake.sends("push")
    assert uuid.UUID(str(push.retry_key)) and fake.usage == 1
    assert push.messages and push.to == [SOMCHAI]
