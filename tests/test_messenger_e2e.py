"""`lessonbot run` on Messenger only, over real HTTP, against the fake Messenger Platform.

What a programme in the Philippines gets: the webhook's handshake and signature check, a whole
course in Filipino (tapped and typed) with its certificate, and the 24-hour window kept: outside
it nothing at all is sent, the reminder waits for the learner, and a broadcast row to them is
skipped with the reason.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.app import build_service
from bot.broadcast import commands
from bot.content import load_library
from bot.journey.followups import FollowUps, Policy
from bot.store import create_engine
from bot.store.models import Learner, OutboxRow
from tests.channel_drivers import ROOT, Mode, settle, state_of, until, walk
from tests.messenger_driver import MARIA, VERIFY_TOKEN, MessengerDriver, learner_on_messenger

pytestmark = pytest.mark.slow
LIBRARY, _ = load_library(ROOT / "lessons")


@pytest.fixture
async def maria(database_url: str) -> AsyncIterator[MessengerDriver]:
    async with learner_on_messenger(database_url) as driver:
        assert isinstance(driver, MessengerDriver)
        yield driver


async def test_the_handshake_answers_only_our_verify_token(maria: MessengerDriver) -> None:
    assert await maria.fake.verify_subscription(VERIFY_TOKEN, "1158201444") == (200, "1158201444")
    assert (await maria.fake.verify_subscription("a guess", "1158201444"))[0] == 403


async def test_unsigned_and_forged_posts_get_401_and_are_not_read(maria: MessengerDriver) -> None:
    body = b'{"object": "page", "entry": []}'
    assert await maria.fake.post_raw(body) == 401
    assert await maria.fake.post_raw(body, signature="bad") == 401
    assert await maria.fake.post_raw(body, signature="sha256=" + "0" * 64) == 401
    assert await maria.fake.post_raw(b"not json", signature=maria.fake.sign(b"not json")) == 400
    assert maria.fake.calls == []  # nothing was read, so nothing answered


@pytest.mark.parametrize("mode", ["tapped", "typed"])
async def test_a_whole_course_in_filipino(maria: MessengerDriver, mode: Mode) -> None:
    state = await walk(maria, LIBRARY, "digital-marketing", "fil", mode)
    assert state.locale == "fil"
    # Every message kept Messenger's rules (the fake refused none), inside the window, with
    # no message tag; the certificate came as a picture made for Maria.
    assert maria.fake.rejected == []
    assert {s.messaging_type for s in maria.sent()} == {"RESPONSE"}
    certificates = [u for u in maria.fake.uploads if (u.filename or "").startswith("certificate-")]
    assert len(certificates) == 1 and certificates[0].type == "image"
    if mode == "tapped":
        assert any(s.quick_replies for s in maria.sent())
        assert max(len(s.quick_replies) for s in maria.sent()) <= 13


async def test_a_redelivered_message_is_answered_once(maria: MessengerDriver) -> None:
    await maria.type("/start")
    answered = len(maria.sent())
    assert await maria.fake.redeliver_last() == 200
    await maria.type("/progress")  # something after it, so the redelivery had its chance
    assert len([t for t in maria.texts()[answered:] if "🌏" in t]) == 0


async def test_get_started_with_an_m_me_ref_starts_that_course(maria: MessengerDriver) -> None:
    sent = len(maria.sent())
    assert await maria.fake.user_gets_started(MARIA, ref="digital-marketing") == 200
    await until(lambda: len(maria.sent()) > sent, maria.task)
    asked, _ = await state_of(maria)
    assert asked.onboarding == "language"  # as /start digital-marketing: the language first
    state = await walk(maria, LIBRARY, "digital-marketing", "fil", "tapped", answers=2,
                       first_contact=False)  # fmt: skip
    assert state.position is not None and state.position.course == "digital-marketing"


async def quiet(maria: MessengerDriver, since: datetime) -> None:
    """As if Maria's last message had come at `since`, on both sides' clocks."""
    engine = create_engine(maria.settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(Learner)
                .where(Learner.external_id == MARIA)
                .values(
                    last_active_at=since.astimezone(UTC).replace(tzinfo=None),
                    resume_lesson="digital-marketing/where-customers-are",
                )
            )
    finally:
        await engine.dispose()
    maria.wrote_at(since)


async def test_outside_the_window_nothing_is_sent(
    maria: MessengerDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where the list of who did not get it is written
    await walk(maria, LIBRARY, "digital-marketing", "fil", "tapped", answers=3)
    # Three days without a word from Maria, at 10:00 in Manila, on both sides' clocks.
    now = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(days=3)
    maria.set_time(now)
    await settle(lambda: len(maria.fake.calls), 0.5)  # the last replies are all out
    await quiet(maria, now - timedelta(days=3))
    calls = len(maria.fake.calls)
    engine = create_engine(maria.settings.database_url)
    try:
        service = build_service(maria.settings, engine)
        async with maria.deliverer(now) as deliverer:
            loop = FollowUps(
                engine,
                service.library,
                service.texts,
                deliverer,
                Policy.from_settings(maria.settings),
                clock=lambda: now,
            )
            await loop.run_once()
    finally:
        await engine.dispose()
    assert len(maria.fake.calls) == calls  # the reminder was not even tried

    await quiet(maria, datetime.now(UTC) - timedelta(days=2))
    path = tmp_path / "grant.yaml"
    path.write_text(
        "version: 1\nkind: broadcast\nid: grant\nurgent: true\n"  # whatever the hour
        "text:\n  en: '<b>New grant</b>: applications close on 31 December.'\n"
        "  fil: '<b>Bagong grant</b>: magsasara ang aplikasyon sa 31 Disyembre.'\n"
    )
    out = io.StringIO()
    assert await commands.send(maria.settings, path, [], None, dry_run=True, yes=True, out=out) == 0
    assert "skipped, messenger allows nothing there: 1" in out.getvalue()
    out = io.StringIO()
    assert (
        await commands.send(maria.settings, path, [], None, dry_run=False, yes=True, out=out) == 0
    )
    assert len(maria.fake.calls) == calls and maria.fake.rejected == []  # not even tried
    engine = create_engine(maria.settings.database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(OutboxRow.status, OutboxRow.last_error))).all()
    finally:
        await engine.dispose()
    assert len(rows) == 1 and rows[0][0] == "skipped"
    assert "24 h window" in str(rows[0][1]) and "2026-02-10" in str(rows[0][1])
