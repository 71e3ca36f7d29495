"""`lessonbot run` on WhatsApp only, over real HTTP, against the fake Cloud API.

What a programme in Indonesia gets: the webhook's handshake and signature check, a whole
course in Indonesian (typed and tapped) with its certificate, the 24-hour window kept, and the
reminder at day 3 sent as a template.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.app import build_service
from bot.channels.templates import load_templates
from bot.channels.whatsapp.runner import make_sender
from bot.config import Settings
from bot.content import load_library
from bot.journey.followups import FollowUps, Policy
from bot.store import create_engine
from bot.store.models import Learner, TemplateSend
from tests.channel_drivers import ROOT, Mode, WhatsAppDriver, walk, whatsapp_settings
from tests.fakewhatsapp import FakeCloudApi
from tests.test_telegram_e2e import free_port

SITI = "6281234567890"
pytestmark = pytest.mark.slow


def approved() -> dict[tuple[str, str], tuple[int, str]]:
    """The fake approves exactly the templates the registry names."""
    templates, problems = load_templates(ROOT / "templates" / "whatsapp.yaml")
    assert not [p for p in problems if p.severity.name == "ERROR"]
    return {(t.name, t.language): (len(t.parameters), t.category.upper()) for t in templates}


@pytest.fixture
async def fake() -> AsyncIterator[FakeCloudApi]:
    async with FakeCloudApi(templates=approved()) as server:
        yield server


@pytest.fixture
def settings(fake: FakeCloudApi, database_url: str) -> Settings:
    return whatsapp_settings(fake, database_url, free_port())


@pytest.fixture
async def siti(fake: FakeCloudApi, settings: Settings) -> AsyncIterator[WhatsAppDriver]:
    driver = WhatsAppDriver(fake, settings, SITI)
    await driver.start_serving()
    yield driver
    await driver.stop()


async def test_the_handshake_answers_only_our_verify_token(siti: WhatsAppDriver) -> None:
    assert await siti.fake.verify_subscription("verify-me-please", "1158201444") == (
        200,
        "1158201444",
    )
    status, _ = await siti.fake.verify_subscription("a guess", "1158201444")
    assert status == 403


async def test_unsigned_and_forged_posts_get_401_and_are_not_read(siti: WhatsAppDriver) -> None:
    body = b'{"object": "whatsapp_business_account", "entry": []}'
    assert await siti.fake.post_raw(body) == 401
    assert await siti.fake.post_raw(body, signature="bad") == 401
    assert await siti.fake.post_raw(body, signature="sha256=" + "0" * 64) == 401
    assert await siti.fake.post_raw(b"not json", signature=siti.fake.sign(b"not json")) == 400
    assert siti.fake.sent == []


@pytest.mark.parametrize("mode", ["tapped", "typed"])
async def test_a_whole_course_in_indonesian(siti: WhatsAppDriver, mode: Mode) -> None:
    library, _ = load_library(ROOT / "lessons")
    state = await walk(siti, library, "digital-marketing", "id", mode)
    assert state.locale == "id"
    assert state.fields.get("country") == "ID"  # +62 offered Indonesia; the learner said yes
    # Every message kept WhatsApp's rules (the fake refused none), and the certificate came
    # as a picture made for Siti.
    assert siti.fake.rejected == []
    certificates = [u for u in siti.fake.uploads if (u.filename or "").startswith("certificate-")]
    assert len(certificates) == 1 and certificates[0].mime_type == "image/png"
    assert siti.sent()[-1].type in ("image", "text", "interactive")
    if mode == "tapped":
        kinds = {s.body["interactive"]["type"] for s in siti.sent() if s.type == "interactive"}
        assert kinds == {"button", "list"}  # 3 or fewer choices, and 4 to 10


async def test_a_redelivered_message_is_answered_once(siti: WhatsAppDriver) -> None:
    await siti.type("/start")
    answered = len(siti.sent())
    assert await siti.fake.redeliver_last() == 200
    await siti.type("/progress")  # something after it, so the redelivery had its chance
    texts = siti.texts()[answered:]
    assert len([t for t in texts if "🌏" in t]) == 0  # the language question was not asked again


async def test_statuses_are_read_and_an_undeliverable_learner_is_marked(
    siti: WhatsAppDriver,
) -> None:
    await siti.type("/start")
    assert await siti.fake.report_statuses("delivered") == 200
    failed = siti.fake.status_entry(siti.sent()[-1].wamid, "failed", error_code=131026)
    assert await siti.fake.post_statuses(failed) == 200
    engine = create_engine(siti.settings.database_url)
    try:
        for _ in range(100):
            async with engine.connect() as conn:
                status = (
                    await conn.execute(select(Learner.status).where(Learner.external_id == SITI))
                ).scalar_one()
            if status == "blocked":
                break
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
    assert status == "blocked"


@contextlib.asynccontextmanager
async def followups(settings: Settings, now: datetime) -> AsyncIterator[FollowUps]:
    """The reminder loop as `lessonbot worker` runs it, with its own WhatsApp sender."""
    engine = create_engine(settings.database_url)
    service = build_service(settings, engine)
    sender = make_sender(settings, engine)
    sender.clock = lambda: now
    try:
        yield FollowUps(
            engine,
            service.library,
            service.texts,
            sender,
            Policy.from_settings(settings),
            clock=lambda: now,
        )
    finally:
        await sender.graph.close()
        await engine.dispose()


async def test_the_day_3_reminder_is_a_template_and_nothing_free_form_leaves_outside(
    siti: WhatsAppDriver,
) -> None:
    await siti.type("/start digital-marketing")
    await siti.tap("g:id", "Bahasa Indonesia")
    state_before = len(siti.sent())
    # Three days pass without a word from Siti, on both sides' clocks, at 10:00 in Jakarta.
    siti.fake.advance(days=3)
    now = datetime.now(UTC).replace(hour=3, minute=0) + timedelta(days=3)
    engine = create_engine(siti.settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(Learner)
                .where(Learner.external_id == SITI)
                .values(
                    last_active_at=(now - timedelta(days=3)).replace(tzinfo=None),
                    resume_lesson="digital-marketing/where-customers-are",
                )
            )
        async with followups(siti.settings, now) as loop:
            await loop.run_once()
        async with engine.connect() as conn:
            sends = (await conn.execute(select(TemplateSend.purpose, TemplateSend.template))).all()
    finally:
        await engine.dispose()
    after = siti.sent()[state_before:]
    assert [s.type for s in after] == ["template"]
    assert after[0].body["template"]["name"] == "lesson_reminder"
    assert after[0].body["template"]["language"]["code"] == "id"
    assert sends == [("reminder", "lesson_reminder")]
    assert siti.fake.rejected == []  # nothing free-form was even tried outside the window
