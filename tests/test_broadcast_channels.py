"""Broadcasts on every channel, each within its rules: a real SQLite outbox, a recording
deliverer per channel (Telegram's capabilities, and WhatsApp's with its window, its templates
and its tier), no network."""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot.broadcast import commands
from bot.broadcast.forecast import channel_rules
from bot.broadcast.message import BroadcastFile, Segment
from bot.broadcast.outbox import Outbox, photo_key
from bot.broadcast.sender import Sender, channel_rate, configured_sender, pool_size
from bot.channels.capabilities import TELEGRAM, WHATSAPP, Capabilities
from bot.channels.delivery import Delivered, NotAllowed, OverQuota, Proactive
from bot.channels.telegram.admin import AdminDesk
from bot.channels.templates import load_templates
from bot.config import Settings
from bot.content import Library
from bot.errors import ConfigError
from bot.store import create_engine
from bot.store.admins import Roles
from bot.store.models import QUOTA_WAIT, Learner, MediaFile, OutboxRow, TemplateSend
from bot.store.windows import Windows

ROOT = Path(__file__).resolve().parent.parent
NOON = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # midday in every country we serve
LATER = NOON + timedelta(hours=1)  # when the WhatsApp tier frees again
NO_TEMPLATE = "outside the 24 h window, no template for `broadcast` in `km`"
TIER_USED = "the number's messaging tier of 250 users per 24 h is used up"
TEXT = {
    "en": "<b>Relief grant</b>: apply by Friday, {first_name} &amp; family.",
    "th": "<b>เงินช่วยเหลือ</b> {first_name}",
}


def message(**extra: Any) -> BroadcastFile:
    return BroadcastFile.model_validate(
        {"version": 1, "kind": "broadcast", "id": "grant", "text": TEXT, **extra}
    )


@dataclass
class Call:
    external_id: str
    text: str
    photo: Path | None
    photo_id: str | None
    proactive: Proactive | None


@dataclass
class Recorder:
    """A deliverer that records each send. On WhatsApp it refuses as WhatsAppSender does: some
    learners have no template in their language (NotAllowed), for others the tier is used up
    until `until` (OverQuota); its message ids are strings, as WhatsApp's wamids are."""

    capabilities: Capabilities
    clock: Callable[[], datetime] = lambda: NOON
    not_allowed: set[str] = field(default_factory=set)
    over_quota: dict[str, datetime] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)  # who a photo was uploaded with
    channel: str = field(init=False)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.channel = self.capabilities.channel

    async def send(
        self,
        external_id: str,
        text: str,
        keyboard: list[list[tuple[str, str]]],
        photo: Path | None,
        photo_id: str | None = None,
        *,
        proactive: Proactive | None = None,
    ) -> Delivered:
        self.calls.append(Call(external_id, text, photo, photo_id, proactive))
        if external_id in self.not_allowed:
            raise NotAllowed(NO_TEMPLATE)
        until = self.over_quota.get(external_id)
        if until is not None and self.clock() < until:
            raise OverQuota(TIER_USED, until)
        n = next(self._ids)
        if photo is not None and photo_id is None:
            self.uploaded.append(external_id)
        if self.channel == "whatsapp":
            media = (photo_id or f"wa-media-{n}") if photo is not None else None
            return Delivered(f"wamid.HBg{n}", media)
        return Delivered(n, (photo_id or f"tg-file-{n}") if photo is not None else None)

    def to(self, external_id: str) -> list[Call]:
        return [c for c in self.calls if c.external_id == external_id]


def person(
    channel: str,
    external_id: str,
    locale: str = "en",
    active: datetime = NOON,
    **more: Any,
) -> dict[str, Any]:
    return {
        "channel": channel,
        "external_id": external_id,
        "first_name": more.pop("first_name", f"P{external_id}"),
        "locale": locale,
        "country": more.pop("country", "TH"),
        "status": more.pop("status", "active"),
        "opted_out": more.pop("opted_out", False),  # every row names every column it sets
        "state": {},
        "tags": [],
        "created_at": NOON.replace(tzinfo=None),
        "last_active_at": active.astimezone(UTC).replace(tzinfo=None),
        **more,
    }


# Telegram t1..t3; WhatsApp w1, w2 get it, w3 has no template in km, w4 and w5 wait for the
# tier; a terminal learner and a demo one are no app's: never reached.
PEOPLE = [
    person("telegram", "101", "en"),
    person("telegram", "102", "th"),
    person("telegram", "103", "km"),
    person("whatsapp", "6581000001", "en"),
    person("whatsapp", "6581000002", "th", first_name=""),
    person("whatsapp", "6581000003", "km"),
    person("whatsapp", "6581000004", "id"),
    person("whatsapp", "6581000005", "en"),
    person("console", "ana", "en"),
    person("demo", "demo-1", "en"),
]
TG = ["101", "102", "103"]
WA_SENT, WA_SKIPPED = ["6581000001", "6581000002"], "6581000003"
WA_WAIT = ["6581000004", "6581000005"]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Any]:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(insert(Learner), PEOPLE)
    yield engine
    await engine.dispose()


@dataclass
class Clock:
    now: datetime = NOON

    def __call__(self) -> datetime:
        return self.now


def recorders(clock: Clock) -> tuple[Recorder, Recorder]:
    telegram = Recorder(TELEGRAM, clock)
    whatsapp = Recorder(
        WHATSAPP,
        clock,
        not_allowed={WA_SKIPPED},
        over_quota=dict.fromkeys(WA_WAIT, LATER),
    )
    return telegram, whatsapp


def sender(engine: Any, deliverer: Recorder, library: Library, clock: Clock) -> Sender:
    return Sender(
        Outbox(engine, deliverer.channel), deliverer, library, rate=1000, clock=clock, backoff=0.01
    )


async def by_learner(engine: Any, broadcast_id: int) -> dict[str, Any]:
    """Each recipient's outbox row, by their external id."""
    query = (
        select(
            Learner.external_id,
            OutboxRow.status,
            OutboxRow.attempts,
            OutboxRow.last_error,
            OutboxRow.next_attempt_at,
            OutboxRow.message_id,
            OutboxRow.platform_id,
        )
        .join(Learner, Learner.id == OutboxRow.learner_id)
        .where(OutboxRow.broadcast_id == broadcast_id)
    )
    async with engine.connect() as conn:
        return {row.external_id: row for row in (await conn.execute(query)).all()}


async def send_on_both(
    engine: Any, library: Library, msg: BroadcastFile, clock: Clock
) -> tuple[int, Recorder, Recorder, Sender, Sender]:
    outbox = Outbox(engine)
    broadcast_id = await outbox.create(msg, msg.segment, library, actor="test", now=NOON)
    telegram, whatsapp = recorders(clock)
    on_telegram, on_whatsapp = (sender(engine, d, library, clock) for d in (telegram, whatsapp))
    await asyncio.gather(on_telegram.run(broadcast_id), on_whatsapp.run(broadcast_id))
    return broadcast_id, telegram, whatsapp, on_telegram, on_whatsapp


async def test_every_channel_gets_it_within_its_rules(engine: Any, library: Library) -> None:
    clock = Clock()
    broadcast_id, telegram, whatsapp, _, on_whatsapp = await send_on_both(
        engine, library, message(), clock
    )
    outbox = Outbox(engine)
    # Everyone on an app was queued, and each sender sent only its own channel's learners.
    assert await outbox.counts(broadcast_id) == {
        "pending": 2,
        "sending": 0,
        "sent": 5,
        "failed": 0,
        "blocked": 0,
        "skipped": 1,
    }
    assert sorted(c.external_id for c in telegram.calls) == TG
    assert sorted(c.external_id for c in whatsapp.calls) == sorted([*WA_SENT, WA_SKIPPED, *WA_WAIT])
    none = dict.fromkeys(("pending", "sending", "sent", "failed", "blocked", "skipped"), 0)
    assert await outbox.counts_by_channel(broadcast_id) == {
        "telegram": none | {"sent": 3},
        "whatsapp": none | {"pending": 2, "sent": 2, "skipped": 1},
    }
    # Every send said why the bot writes first, with the text as plain text.
    first = whatsapp.to("6581000001")[0]
    assert first.text == "<b>Relief grant</b>: apply by Friday, P6581000001 &amp; family."
    plain = "Relief grant: apply by Friday, P6581000001 & family."
    assert first.proactive == Proactive("broadcast", {"text": plain, "name": "P6581000001"})
    assert whatsapp.to("6581000002")[0].proactive == Proactive(
        "broadcast", {"text": "เงินช่วยเหลือ", "name": ""}
    )
    assert all(c.proactive and c.proactive.purpose == "broadcast" for c in telegram.calls)
    rows = await by_learner(engine, broadcast_id)
    # WhatsApp's string ids are kept where its receipts find them; Telegram's ints as before.
    assert {rows[w].platform_id for w in WA_SENT} == {"wamid.HBg1", "wamid.HBg2"}
    assert all(rows[w].message_id is None for w in WA_SENT)
    assert sorted(rows[t].message_id for t in TG) == [1, 2, 3]
    assert all(rows[t].platform_id is None for t in TG)
    # No template in km: skipped with the reason, not attempted.
    skipped = rows[WA_SKIPPED]
    assert (skipped.status, skipped.last_error, skipped.attempts) == ("skipped", NO_TEMPLATE, 0)
    # The tier: they wait until it frees, their attempts untouched.
    for w in WA_WAIT:
        row = rows[w]
        assert (row.status, row.last_error, row.attempts) == ("pending", QUOTA_WAIT + TIER_USED, 0)
        assert row.next_attempt_at == LATER.replace(tzinfo=None)
    tally = on_whatsapp.tally
    assert (tally.sent, tally.skipped, tally.waiting, tally.waiting_until) == (2, 1, 2, LATER)
    assert (await outbox.get(broadcast_id)).status == "sending"  # type: ignore[union-attr]

    # Before the tier frees nothing is tried again; after, the waiting rows go, once.
    clock.now = LATER - timedelta(minutes=1)
    await sender(engine, whatsapp, library, clock).run(broadcast_id)
    assert len(whatsapp.calls) == 5
    clock.now = LATER + timedelta(seconds=1)
    await sender(engine, whatsapp, library, clock).run(broadcast_id)
    assert sorted(c.external_id for c in whatsapp.calls[5:]) == WA_WAIT
    assert len(whatsapp.to(WA_SKIPPED)) == 1  # never retried
    rows = await by_learner(engine, broadcast_id)
    assert [(rows[w].status, rows[w].attempts) for w in WA_WAIT] == [("sent", 1)] * 2
    assert all(rows[w].platform_id for w in WA_WAIT)
    assert len(telegram.calls) == 3
    found = await outbox.get(broadcast_id)
    assert found is not None and found.status == "done"


async def test_a_segment_can_name_the_channel(engine: Any, library: Library) -> None:
    outbox = Outbox(engine)
    assert Segment.model_validate({"channel": "whatsapp"}).channel == ("whatsapp",)
    narrowed = commands.parse_segment(Segment(), ["channel=whatsapp"])
    assert await outbox.count_by_locale(narrowed, library, NOON) == {
        "en": 2,
        "id": 1,
        "km": 1,
        "th": 1,
    }
    assert await outbox.count_by_locale(Segment(), library, NOON) == {
        "en": 3,
        "id": 1,
        "km": 2,
        "th": 2,
    }
    with pytest.raises(ConfigError, match="unknown channel `whatsap`"):
        commands.parse_segment(Segment(), ["channel=whatsap"])
    # Only the configured channels are queued for.
    only = Outbox(engine, reach=["telegram"])
    assert await only.count_by_locale(Segment(), library, NOON) == {"en": 1, "km": 1, "th": 1}


def png(path: Path) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16)
    return path


async def test_a_photo_is_uploaded_once_per_broadcast_and_channel(
    engine: Any, library: Library, tmp_path: Path
) -> None:
    photo = png(tmp_path / "poster.png").resolve()
    clock = Clock()
    broadcast_id, telegram, whatsapp, _, _ = await send_on_both(
        engine, library, message(media=str(photo)), clock
    )
    assert len(telegram.uploaded) == 1 and len(whatsapp.uploaded) == 1
    # Each channel's id went to that channel's learners only.
    assert {c.photo_id for c in telegram.calls} == {None, "tg-file-1"}
    assert len([c for c in telegram.calls if c.photo_id == "tg-file-1"]) == 2
    assert {c.photo_id for c in whatsapp.calls} == {None, "wa-media-1"}
    found = await Outbox(engine).get(broadcast_id)
    assert found is not None and found.photo_id == "tg-file-1"  # the broadcast's is Telegram's
    async with engine.connect() as conn:
        kept = (
            await conn.execute(select(MediaFile.channel, MediaFile.path, MediaFile.file_id))
        ).all()
    assert kept == [("whatsapp", photo_key(broadcast_id, str(photo)), "wa-media-1")]
    # A later run (the waiting rows, after the tier frees) sends the kept id: no upload.
    clock.now = LATER + timedelta(seconds=1)
    calls = len(whatsapp.calls)
    await sender(engine, whatsapp, library, clock).run(broadcast_id)
    later = whatsapp.calls[calls:]
    assert sorted(c.external_id for c in later) == WA_WAIT
    assert {c.photo_id for c in later} == {"wa-media-1"}


async def test_the_worker_path_sends_one_channel_per_sender_with_its_rate(
    engine: Any, library: Library, database_url: str
) -> None:
    settings = Settings(
        _env_file=None, database_url=database_url, broadcast_rate=25.0, whatsapp_rate=120.0
    )
    assert channel_rate(settings, "telegram") == 25.0
    assert channel_rate(settings, "whatsapp") == 120.0
    assert channel_rate(settings, "console") == 1000.0  # another app: its documented rate
    telegram, whatsapp = recorders(Clock())
    tg = configured_sender(settings, Outbox(engine, "telegram"), telegram, library)
    wa = configured_sender(settings, Outbox(engine, "whatsapp"), whatsapp, library)
    assert (tg.rate, tg.pool) == (25.0, pool_size(25.0)) == (25.0, 1)
    assert (wa.rate, wa.pool) == (120.0, 3)
    assert wa.deliverer.channel == "whatsapp"
    assert wa.deliverer.capabilities is WHATSAPP
    with pytest.raises(ValueError, match="a whatsapp deliverer needs Outbox"):
        Sender(Outbox(engine, "telegram"), whatsapp, library)


async def test_an_admin_broadcast_is_ended_and_summarised_on_telegram(
    engine: Any, library: Library
) -> None:
    clock = Clock(LATER + timedelta(seconds=1))  # the tier is free: everybody gets it
    outbox = Outbox(engine)
    broadcast_id = await outbox.create(
        message(), Segment(), library, actor="telegram:9", now=NOON, notify_chat="9"
    )
    telegram, whatsapp = recorders(clock)
    said: list[tuple[int, str]] = []
    on_telegram, on_whatsapp = (sender(engine, d, library, clock) for d in (telegram, whatsapp))
    on_telegram.summarize = on_whatsapp.summarize = lambda b, chat: said.append((b, chat))
    await on_telegram.run(broadcast_id)
    await on_whatsapp.run(broadcast_id)
    # The WhatsApp sender finished last, but the admin is in Telegram: it leaves the ending to
    # the Telegram sender, which tells them.
    assert (await outbox.get(broadcast_id)).status == "sending"  # type: ignore[union-attr]
    assert said == []
    await on_telegram.run(broadcast_id)
    assert (await outbox.get(broadcast_id)).status == "done"  # type: ignore[union-attr]
    assert said == [(broadcast_id, "9")]


def templates_file(tmp_path: Path) -> Path:
    path = tmp_path / "whatsapp.yaml"
    path.write_text(
        "version: 1\nkind: whatsapp-templates\ntemplates:\n"
        "  broadcast:\n    name: relief_update\n    category: utility\n"
        "    parameters: [text]\n    locales:\n"
        "      en:\n        language: en\n"
        '        body: "News from your course: {{1}} Reply STOP to stop."\n'
        "      th:\n        language: th\n"
        '        body: "ข่าวจากคอร์ส: {{1}} ตอบ STOP"\n',
        encoding="utf-8",
    )
    registry, problems = load_templates(path)
    assert problems == [] and len(registry) == 2
    return path


def forecast_settings(database_url: str, tmp_path: Path, **more: Any) -> Settings:
    return Settings(
        _env_file=None,
        bot_token="123456:TEST-channels",
        telegram_api_url="http://127.0.0.1:9",  # never called: a dry run opens no channel
        database_url=database_url,
        lessons_dir=str(ROOT / "lessons"),
        whatsapp_token="wa-token",
        whatsapp_templates=str(templates_file(tmp_path)),
        whatsapp_tier="250",
        **more,
    )


async def dry_run_population(database_url: str) -> None:
    """Telegram: 3, and 2 who aren't reached (stopped, blocked). WhatsApp: 2 inside the
    window; outside it 4 with a template (en 2, th 2; one of them had a template today, so the
    tier counts them already) and 1 without (km). The tier has 249 of 250 users used: 1 slot
    left for 3 new users, so 2 wait for the next day."""
    now = datetime.now(UTC)
    inside, outside = now - timedelta(hours=1), now - timedelta(days=3)
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Learner),
            [
                person("telegram", "101", "en", outside),
                person("telegram", "102", "th", inside),
                person("telegram", "103", "km", outside),
                person("telegram", "104", "en", opted_out=True),
                person("telegram", "105", "en", status="blocked"),
                person("whatsapp", "6582000001", "en", inside),
                person("whatsapp", "6582000002", "km", inside),
                person("whatsapp", "6582000003", "en", outside),
                person("whatsapp", "6582000004", "en", outside),
                person("whatsapp", "6582000005", "th", outside),
                person("whatsapp", "6582000006", "th", outside),
                person("whatsapp", "6582000007", "km", outside),
                person("console", "ana", "en", inside),
            ],
        )
        sent = (now - timedelta(hours=2)).replace(tzinfo=None)
        await conn.execute(
            insert(TemplateSend),
            [
                {
                    "channel": "whatsapp",
                    "address": address,
                    "purpose": "reminder",
                    "template": "lesson_reminder",
                    "category": "marketing",
                    "sent_at": sent,
                }
                for address in ["6582000006", *(f"6599{i:06d}" for i in range(248))]
            ],
        )
    await engine.dispose()


QUOTA = (
    "  quota: replies inside the 24 h window are free; outside it only approved templates, "
    "paid per message by category, to at most the number's messaging tier of users per 24 h\n"
)
WHATSAPP_FORECAST = (
    "On whatsapp: 7 learner(s)\n"
    "  inside the 24 h window, sent as written: 2\n"
    "  outside it, need a template: 5\n"
    "    `relief_update` (utility): 4 (en 2, th 2)\n"
    "    skipped, no `broadcast` template in their language: 1 (km 1)\n"
    "  wait for the next day (messaging tier of 250 users per 24 h, 249 used): 2\n" + QUOTA
)


def broadcast_file(tmp_path: Path) -> Path:
    path = tmp_path / "grant.yaml"
    path.write_text(
        "version: 1\nkind: broadcast\nid: grant\nurgent: true\n"  # whatever the hour
        "text: {en: 'Apply by Friday, {first_name}', th: 'สมัครก่อนวันศุกร์ {first_name}'}\n",
        encoding="utf-8",
    )
    return path


async def test_the_dry_run_shows_each_channel_and_its_rules(
    database_url: str, tmp_path: Path
) -> None:
    await dry_run_population(database_url)
    settings = forecast_settings(database_url, tmp_path)
    path = broadcast_file(tmp_path)
    out = io.StringIO()
    assert await commands.send(settings, path, [], None, dry_run=True, yes=True, out=out) == 0
    assert out.getvalue() == (
        "grant: 10 learner(s)\n"
        "  en: 4\n"
        "  km (gets en): 3\n"
        "  th: 3\n"
        "On telegram: 3 learner(s)\n"
        "  quota: free; no window, no quota\n" + WHATSAPP_FORECAST
    )
    out = io.StringIO()
    await commands.send(settings, path, ["channel=whatsapp"], None, dry_run=True, yes=True, out=out)
    assert out.getvalue() == (
        "grant: 7 learner(s)\n  en: 3\n  km (gets en): 2\n  th: 2\n" + WHATSAPP_FORECAST
    )
    # An unlimited tier: nobody waits.
    out = io.StringIO()
    unlimited = settings.model_copy(update={"whatsapp_tier": "unlimited"})
    await commands.send(unlimited, path, [], None, dry_run=True, yes=True, out=out)
    assert "  wait for the next day (messaging tier unlimited): 0\n" in out.getvalue()
    # Without WhatsApp configured, its learners are not counted, and the dry run says so.
    out = io.StringIO()
    telegram_only = settings.model_copy(update={"whatsapp_token": ""})
    await commands.send(telegram_only, path, [], None, dry_run=True, yes=True, out=out)
    assert out.getvalue() == (
        "grant: 3 learner(s)\n  en: 1\n  km (gets en): 1\n  th: 1\n"
        "On telegram: 3 learner(s)\n"
        "  quota: free; no window, no quota\n"
        "Not sent on whatsapp: 7 learner(s); it is not configured here\n"
    )


async def test_the_admin_preview_shows_each_channel(
    database_url: str, tmp_path: Path, library: Library
) -> None:
    await dry_run_population(database_url)
    settings = forecast_settings(database_url, tmp_path)
    engine = create_engine(database_url)
    try:
        desk = AdminDesk(
            Roles(engine), Outbox(engine), library, tmp_path, channels=channel_rules(settings)
        )
        shown = await desk._preview(1, message(), "Ana")
        assert shown[0].text.splitlines() == [
            "📣 <b>grant</b> reaches 10 learner(s):",
            "• en: 4",
            "• km: 3 (they get en)",
            "• th: 3",
            "On telegram: 3 learner(s)",
            "• quota: free; no window, no quota",
            "On whatsapp: 7 learner(s)",
            "• inside the 24 h window, sent as written: 2",
            "• outside it, need a template: 5",
            "   – <code>relief_update</code> (utility): 4 (en 2, th 2)",
            "   – skipped, no <code>broadcast</code> template in their language: 1 (km 1)",
            "• wait for the next day (messaging tier of 250 users per 24 h, 249 used): 2",
            "• quota: " + QUOTA.split(": ", 1)[1].strip().replace("'", "&#x27;"),
            "Previews follow, one per language.",
        ]
        # With Telegram alone configured, the desk counts and queues Telegram's learners.
        telegram_only = channel_rules(settings.model_copy(update={"whatsapp_token": ""}))
        desk = AdminDesk(Roles(engine), Outbox(engine), library, tmp_path, channels=telegram_only)
        lines = (await desk._preview(1, message(), "Ana"))[0].text.splitlines()
        assert lines[0] == "📣 <b>grant</b> reaches 3 learner(s):"
        assert "Not sent on whatsapp: 7 learner(s); it is not configured here" in lines
    finally:
        await engine.dispose()


async def test_broadcast_status_shows_channels_reasons_and_receipts(
    engine: Any, library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the failures CSV is written here
    broadcast_id, *_ = await send_on_both(engine, library, message(), Clock())
    windows = Windows(engine, "whatsapp")
    await windows.record_receipt("wamid.HBg1", "delivered", None)
    await windows.record_receipt("wamid.HBg1", "read", None)
    await windows.record_receipt("wamid.HBg2", "delivered", None)
    out = io.StringIO()
    b = commands.Broadcasting(Outbox(engine), library, {})
    await commands.status(b, broadcast_id, out)
    assert out.getvalue() == (
        f"broadcast {broadcast_id} (grant): sending\n"
        "  pending 2 · sending 0 · sent 5 · failed 0 · blocked 0 · skipped 1\n"
        "  telegram: pending 0 · sending 0 · sent 3 · failed 0 · blocked 0 · skipped 0\n"
        "  whatsapp: pending 2 · sending 0 · sent 2 · failed 0 · blocked 0 · skipped 1\n"
        "    receipts: delivered 1 · read 1\n"
        f"  2 × {QUOTA_WAIT}{TIER_USED} (whatsapp, waiting until 2026-11-23 06:00 UTC)\n"
        f"  1 × {NO_TEMPLATE} (whatsapp, skipped)\n"
        f"  1 recipient(s) who did not get it listed in broadcast-{broadcast_id}-failures.csv\n"
    )
    csv = (tmp_path / f"broadcast-{broadcast_id}-failures.csv").read_text().splitlines()
    assert csv == [
        "channel,external_id,locale,country,status,attempts,reason",
        f'whatsapp,{WA_SKIPPED},km,TH,skipped,0,"{NO_TEMPLATE}"',  # quoted: it has a comma
    ]


async def test_broadcast_send_delivers_on_every_configured_channel(
    engine: Any, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    clock = Clock(datetime.now(UTC))
    telegram, whatsapp = recorders(clock)
    whatsapp.over_quota = dict.fromkeys(WA_WAIT, clock.now + timedelta(hours=3))
    opened: list[Settings] = []

    @asynccontextmanager
    async def open_deliverers(settings: Settings, engine: Any) -> AsyncIterator[list[Recorder]]:
        opened.append(settings)
        yield [telegram, whatsapp]

    monkeypatch.setattr("bot.channels.runner.open_deliverers", open_deliverers)
    settings = forecast_settings(database_url, tmp_path)
    out = io.StringIO()
    path = broadcast_file(tmp_path)
    assert await commands.send(settings, path, [], None, dry_run=False, yes=True, out=out) == 0
    assert opened == [settings]
    assert sorted(c.external_id for c in telegram.calls) == TG
    assert sorted(c.external_id for c in whatsapp.calls) == sorted([*WA_SENT, WA_SKIPPED, *WA_WAIT])
    said = out.getvalue()
    until = (clock.now + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
    assert (
        f"whatsapp: 2 wait for the channel's quota until {until} UTC; "
        "`lessonbot worker` (or `run`) sends them then\n"
    ) in said
    assert "  telegram: pending 0 · sending 0 · sent 3 · failed 0 · blocked 0 · skipped 0\n" in said
    assert "  whatsapp: pending 2 · sending 0 · sent 2 · failed 0 · blocked 0 · skipped 1\n" in said
    assert f"  1 × {NO_TEMPLATE} (whatsapp, skipped)\n" in said
