"""`lessonbot run` on Zalo only, over real HTTP, against the fake OA API.

What a programme in Vietnam gets: the webhook's signature check, a whole course in Vietnamese
(tapped and typed) with its certificate, the access token refreshed when it expires (and the
new pair kept across a restart), the 9th reply within 48 h sent as a proactive message, and
the monthly allowance stopping proactive sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.channels.delivery import OverQuota, Proactive
from bot.content import load_library
from bot.store import create_engine
from bot.store.models import ChannelToken, Learner, TemplateSend
from tests.channel_drivers import ROOT, Mode, walk
from tests.zalo_driver import LAN, ZaloDriver, learner_on_zalo

pytestmark = pytest.mark.slow
LIBRARY, _ = load_library(ROOT / "lessons")


@pytest.fixture
async def lan(database_url: str) -> AsyncIterator[ZaloDriver]:
    async with learner_on_zalo(database_url) as driver:
        yield driver


async def test_unsigned_and_forged_posts_get_401_and_are_not_read(lan: ZaloDriver) -> None:
    body = (
        b'{"app_id":"1823865030574396868","event_name":"user_send_text","timestamp":"1",'
        b'"sender":{"id":"5510185758261927916"},"message":{"msg_id":"m","text":"/start"}}'
    )
    assert await lan.fake.post_raw(body) == 401
    assert await lan.fake.post_raw(body, "bad") == 401
    assert await lan.fake.post_raw(body, "mac=" + "0" * 64) == 401
    assert await lan.fake.post_raw(b"not json", "mac=" + "0" * 64) == 401
    assert lan.fake.calls == [] and lan.fake.sent == []
    await lan.type("/start")  # the same learner, signed: answered
    assert lan.fake.sent != []


@pytest.mark.parametrize("mode", ["tapped", "typed"])
async def test_a_whole_course_in_vietnamese(lan: ZaloDriver, mode: Mode) -> None:
    state = await walk(lan, LIBRARY, "digital-marketing", "vi", mode)
    assert state.locale == "vi"
    assert lan.fake.refused == []  # every message kept Zalo's rules
    certificates = [u for u in lan.fake.uploads if (u.filename or "").startswith("certificate-")]
    assert len(certificates) == 1 and certificates[0].mime_type == "image/png"
    if mode == "tapped":
        assert any(s.buttons() for s in lan.sent())
        assert all(len(s.buttons()) <= 5 for s in lan.sent())
    kinds = {s.kind for s in lan.sent()}
    assert kinds == {"cs"}  # a learner who keeps writing never needs a proactive message


async def test_an_expired_token_is_refreshed_and_the_new_pair_survives_a_restart(
    lan: ZaloDriver,
) -> None:
    await walk(lan, LIBRARY, "online-safety", "vi", "tapped", answers=2)
    spent = lan.fake.refresh_token
    lan.fake.expire_tokens()
    await lan.type("/progress")
    assert lan.fake.refreshes == [spent]
    assert [r.error["error"] for r in lan.fake.refused] == [-216]
    engine = create_engine(lan.settings.database_url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(select(ChannelToken))).one()
    finally:
        await engine.dispose()
    assert (row.access_token, row.refresh_token) == (lan.fake.access_token, lan.fake.refresh_token)
    # A restart with the settings' (now spent) pair: the stored one is used, no refresh.
    await lan.stop()
    await lan.start_serving()
    await lan.type("/progress")
    assert lan.fake.refreshes == [spent] and len(lan.fake.refused) == 1
    assert lan.fake.calls[-1].headers["access_token"] == lan.fake.access_token


async def test_the_9th_message_within_48_h_goes_proactive_and_the_allowance_stops_them(
    database_url: str,
) -> None:
    async with learner_on_zalo(database_url, proactive_monthly=2) as lan:
        await lan.type("/start online-safety")
        answered = len(lan.sent())
        assert 0 < answered < 8 and {s.kind for s in lan.sent()} == {"cs"}
        # Reminders from the worker, a process that did not see those replies: it counts from
        # 0, so Zalo refusing the 9th (-211) is what sends it proactive.
        now = lan.fake.now()
        reminder = Proactive("reminder")
        async with lan.deliverer(now) as sender:
            while not any(s.kind == "promotion" for s in lan.sent()):
                await sender.send(LAN, "Bài học đang chờ bạn", [], None, proactive=reminder)
            assert [s.kind for s in lan.sent()] == ["cs"] * 8 + ["promotion"]
            assert [r.error["error"] for r in lan.fake.refused] == [-211]
            await sender.send(LAN, "Còn một bài nữa", [], None, proactive=reminder)
            assert [s.kind for s in lan.sent()][-2:] == ["promotion", "promotion"]

            def promotions() -> int:
                return sum(c.path.endswith("/promotion") for c in lan.fake.calls)

            calls = promotions()
            with pytest.raises(OverQuota) as caught:  # 2 a month: used up
                await sender.send(LAN, "Thêm một lần", [], None, proactive=reminder)
            assert promotions() == calls  # not even attempted
            assert caught.value.until > now
        engine = create_engine(lan.settings.database_url)
        try:
            async with engine.connect() as conn:
                query = select(TemplateSend.purpose, TemplateSend.category)
                sends = (await conn.execute(query)).all()
                status = (await conn.execute(select(Learner.status))).scalar_one()
        finally:
            await engine.dispose()
        assert sends == [("reminder", "proactive")] * 2 and status == "active"
        # The learner writes again: a new window, its replies free again.
        await lan.type("/progress")
        assert lan.sent()[-1].kind == "cs"


async def test_unfollow_marks_the_learner_blocked_and_follow_active_again(lan: ZaloDriver) -> None:
    await lan.type("/start")

    async def status() -> str:
        engine = create_engine(lan.settings.database_url)
        try:
            async with engine.connect() as conn:
                return str((await conn.execute(select(Learner.status))).scalar_one())
        finally:
            await engine.dispose()

    async def becomes(wanted: str) -> None:
        for _ in range(200):
            if await status() == wanted:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the learner never became {wanted}")

    assert await lan.fake.unfollows(LAN) == 200
    await becomes("blocked")
    assert await lan.fake.follows(LAN) == 200
    await becomes("active")
    assert await lan.fake.user_saw(LAN) == 200  # receipts are taken in, and answered 200
