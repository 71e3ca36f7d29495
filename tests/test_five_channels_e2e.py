"""One deployment, five apps: what a programme running every channel gets, tried as a new user.

A single `lessonbot run` serves Telegram, WhatsApp, LINE, Messenger and Zalo from one database,
each against its loopback fake. Learners start on each app in their own language; one admin
broadcast then reaches all five, each within its rules (a WhatsApp learner outside the window
gets the approved template; the LINE one a counted push; the others a free message in their
window), the dry run says so per channel first, and the report counts reach per channel.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot.broadcast import commands
from bot.config import Settings
from bot.report.commands import report
from bot.store import create_engine
from bot.store.models import Learner
from tests.channel_drivers import Driver, TelegramDriver, WhatsAppDriver, until, whatsapp_settings
from tests.fakebotapi import FakeBotAPI
from tests.fakeline import FakeLine, user_id
from tests.fakemessenger import FakeMessenger
from tests.fakewhatsapp import FakeCloudApi
from tests.fakezalo import FakeZalo
from tests.line_driver import LineDriver, line_settings
from tests.messenger_driver import MessengerDriver, messenger_settings
from tests.test_telegram_e2e import ANA, free_port, settings_for
from tests.test_whatsapp_e2e import approved
from tests.zalo_driver import ZaloDriver, zalo_settings

pytestmark = pytest.mark.slow
PER_CHANNEL = 5  # the report shows a channel's reach once it has this many learners
CHANNELS = ("telegram", "whatsapp", "line", "messenger", "zalo")


@dataclass
class Programme:
    settings: Settings
    learners: dict[str, list[Driver]]  # by channel: PER_CHANNEL learners each

    async def restart(self) -> None:
        """Stop `lessonbot run` and start it again: what it held in memory is gone."""
        first = self.learners["whatsapp"][0]
        await first.stop()
        await first.start_serving()
        for drivers in self.learners.values():
            for driver in drivers:
                driver.task = first.task  # type: ignore[attr-defined]


def merged(*each: Settings) -> Settings:
    """One configuration with every channel's variables (each set differs from the defaults
    only in its own channel's, the database, the port and the content folders)."""
    defaults = Settings(_env_file=None)
    values: dict[str, Any] = {}
    for settings in each:
        for name, value in settings.model_dump().items():
            if value != getattr(defaults, name):
                values[name] = value
    return Settings(_env_file=None, **values)


@contextlib.asynccontextmanager
async def programme(database_url: str) -> AsyncIterator[Programme]:
    port = free_port()
    async with (
        FakeBotAPI(max_poll_wait=0.2) as telegram,
        FakeCloudApi(templates=approved()) as whatsapp,
        FakeLine(quota=100) as line,
        FakeMessenger() as messenger,
        FakeZalo() as zalo,
    ):
        settings = merged(
            settings_for(telegram, database_url, "aiogram"),
            whatsapp_settings(whatsapp, database_url, port),
            line_settings(line, database_url, port),
            messenger_settings(messenger, database_url, port),
            zalo_settings(zalo, database_url, port),
        )
        each = range(PER_CHANNEL)
        learners: dict[str, list[Driver]] = {
            "telegram": [TelegramDriver(telegram, settings, ANA + n) for n in each],
            "whatsapp": [WhatsAppDriver(whatsapp, settings, f"62812345678{n:02d}") for n in each],
            "line": [LineDriver(line, settings, user_id(n + 1)) for n in each],
            "messenger": [
                MessengerDriver(messenger, settings, f"723456789012{n:04d}") for n in each
            ],
            "zalo": [ZaloDriver(zalo, settings, f"55101857582619279{n:02d}") for n in each],
        }
        first = learners["whatsapp"][0]
        assert isinstance(first, WhatsAppDriver)
        await first.start_serving()  # every webhook is a route of the same server
        assert first.task is not None
        for drivers in learners.values():
            for driver in drivers:
                driver.task = first.task  # type: ignore[attr-defined]
        await until(lambda: telegram.calls_of("setChatMenuButton"), first.task)
        try:
            yield Programme(settings, learners)
        finally:
            await first.stop()


async def last_wrote(settings: Settings, driver: Driver, when: datetime) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(Learner)
                .where(Learner.channel == driver.channel, Learner.external_id == driver.address)
                .values(last_active_at=when.astimezone(UTC).replace(tzinfo=None))
            )
    finally:
        await engine.dispose()
    driver.wrote_at(when)


async def test_one_broadcast_reaches_five_channels_each_within_its_rules(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with programme(database_url) as p:
        for channel, drivers in p.learners.items():
            for driver in drivers:
                await driver.type("/start")
                assert driver.texts(), f"nobody answered on {channel}"
        siti = p.learners["whatsapp"][0]
        await last_wrote(p.settings, siti, datetime.now(UTC) - timedelta(days=2))
        await p.restart()  # a bot running those two days would know of no later message

        path = tmp_path / "grant.yaml"
        path.write_text(
            "version: 1\nkind: broadcast\nid: grant\nurgent: true\n"
            "text:\n  en: '<b>New grant</b>: applications close on 31 December.'\n"
        )
        dry = io.StringIO()
        assert await commands.send(p.settings, path, [], None, dry_run=True, yes=True, out=dry) == 0
        plan = dry.getvalue()
        for channel in CHANNELS:
            assert f"On {channel}: {PER_CHANNEL} learner(s)" in plan
        assert "outside it, need a template: 1" in plan  # Siti, on WhatsApp
        assert "counted against the monthly quota: 5" in plan  # LINE's pushes

        before = {c: [len(d.texts()) for d in ds] for c, ds in p.learners.items()}
        out = io.StringIO()
        assert (
            await commands.send(p.settings, path, [], None, dry_run=False, yes=True, out=out) == 0
        )
        for channel, drivers in p.learners.items():
            for driver, seen in zip(drivers, before[channel], strict=True):
                got = driver.texts()[seen:]
                assert len(got) == 1, f"{channel} {driver.address}: {got}"
                assert "New grant" in got[0] and "31 December." in got[0]
                assert driver.failed_sends() == 0
        assert siti.texts()[-1].startswith("[programme_update]")  # the approved template
        assert isinstance(siti, WhatsAppDriver)
        line = p.learners["line"][0]
        assert isinstance(line, LineDriver)
        pushes = [s for s in line.fake.sent if s.kind == "push"]
        assert len(pushes) == PER_CHANNEL and all(push.retry_key for push in pushes)

        assert await report(p.settings, tmp_path / "report") == 0
        with (tmp_path / "report" / "learners_by_channel.csv").open(encoding="utf-8") as file:
            reach = {row["value"]: row["learners"] for row in csv.DictReader(file)}
        assert {channel: reach[channel] for channel in CHANNELS} == dict.fromkeys(
            CHANNELS, str(PER_CHANNEL)
        )
