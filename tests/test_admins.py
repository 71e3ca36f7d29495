"""Admins: ADMIN_IDS grants and revokes its own; `lessonbot admins` changes the rest, audited."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import main
from bot.store import create_engine
from bot.store.admins import Roles
from tests.databases import rows

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def test_admin_ids_is_the_truth_for_the_admins_it_grants(
    engine: AsyncEngine, database_url: str
) -> None:
    roles = Roles(engine)
    await roles.bootstrap({555, 777}, NOW)
    assert await roles.has("555") and await roles.has("777")
    await roles.bootstrap({777}, NOW)  # a restart with 555 taken out of ADMIN_IDS
    assert not await roles.has("555") and await roles.has("777")
    await roles.bootstrap(set(), NOW)  # ADMIN_IDS=""
    assert not await roles.has("777")
    assert await rows(database_url, "SELECT count(*) FROM roles") == [(0,)]
    log = await rows(
        database_url,
        "SELECT actor, action, detail FROM audit_log ORDER BY id",
    )
    assert [(actor, action) for actor, action, _ in log] == [
        ("ADMIN_IDS", "role.grant"),
        ("ADMIN_IDS", "role.grant"),
        ("ADMIN_IDS", "role.revoke"),
        ("ADMIN_IDS", "role.revoke"),
    ]
    detail = log[2][2]
    detail = json.loads(detail) if isinstance(detail, str) else detail
    assert detail == {"channel": "telegram", "user": "555", "role": "admin"}


async def test_a_grant_by_hand_outlives_admin_ids(engine: AsyncEngine) -> None:
    roles = Roles(engine)
    await roles.bootstrap({555}, NOW)
    assert await roles.grant("555", "cli:ops", NOW)  # now theirs, not ADMIN_IDS's
    assert await roles.grant("888", "cli:ops", NOW)
    assert not await roles.grant("888", "cli:ops", NOW)  # already
    await roles.bootstrap(set(), NOW)
    assert await roles.has("555") and await roles.has("888")
    assert await roles.revoke("888", "cli:ops", NOW)
    assert not await roles.revoke("888", "cli:ops", NOW)
    assert [g.external_id for g in await roles.grants()] == ["555"]


async def lessonbot(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    *args: str,
    admin_ids: str = "",
) -> tuple[int, str, str]:
    """`lessonbot ...` through bot.cli.main (in a thread: it runs its own event loop)."""
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ADMIN_IDS", admin_ids)
    code = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


async def test_lessonbot_admins_list_grant_revoke(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def admins(*args: str, admin_ids: str = "") -> tuple[int, str, str]:
        return await lessonbot(
            monkeypatch, capsys, database_url, "admins", *args, admin_ids=admin_ids
        )

    code, out, _ = await admins("list")
    assert (code, out) == (0, "no admins (set ADMIN_IDS, or run `lessonbot admins grant USER_ID`)")
    assert await admins("grant", "555") == (0, "555 is an admin", "")
    assert await admins("grant", "555") == (0, "555 is an admin already", "")
    code, out, _ = await admins("list")
    assert code == 0 and out.startswith(f"555\tadmin\tgranted by cli:{getpass.getuser()} at ")

    code, out, err = await admins("grant", "@someone")
    assert code == 2 and "not a Telegram user id" in err and "@username" in err
    # Someone ADMIN_IDS lists would be granted again at the next start: refused, with why.
    code, _, err = await admins("revoke", "777", admin_ids="777")
    assert code == 2 and "777 is in ADMIN_IDS: remove them there" in err

    assert await admins("revoke", "555") == (0, "555 is no longer an admin", "")
    assert await admins("revoke", "555") == (0, "555 was not an admin", "")
    log = await rows(database_url, "SELECT actor, action FROM audit_log ORDER BY id")
    me = f"cli:{getpass.getuser()}"
    assert log == [(me, "role.grant"), (me, "role.revoke")]
