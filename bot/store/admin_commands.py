"""`lessonbot admins list|grant|revoke`: who may use the admin commands, changed by hand."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

from bot.config import Settings
from bot.errors import ConfigError
from bot.store.admins import FROM_SETTINGS, Roles


def cli_actor() -> str:
    """Who is running a CLI command, as the audit log names them."""
    return f"cli:{getpass.getuser()}"


def _user_id(text: str) -> str:
    if not text.isdigit():
        raise ConfigError(
            f"`{text}` is not a Telegram user id: use the number (e.g. 123456789), never a "
            "@username, which anyone can take over"
        )
    return text


async def admins(settings: Settings, action: str, user: str | None) -> int:
    from bot.app import open_database

    engine = await open_database(settings)
    roles = Roles(engine)
    now = datetime.now(UTC)
    try:
        if action == "list":
            grants = await roles.grants()
            for grant in grants:
                print(
                    f"{grant.external_id}\t{grant.role}\tgranted by {grant.granted_by} "
                    f"at {grant.granted_at:%Y-%m-%d %H:%M} UTC"
                )
            if not grants:
                print("no admins (set ADMIN_IDS, or run `lessonbot admins grant USER_ID`)")
            return 0
        assert user is not None
        who = _user_id(user)
        listed = int(who) in settings.admins
        if action == "grant":
            done = await roles.grant(who, cli_actor(), now)
            print(f"{who} is an admin" + ("" if done else " already"))
            return 0
        if listed:
            # The next start would grant it again: say so, and change nothing.
            raise ConfigError(
                f"{who} is in {FROM_SETTINGS}: remove them there, and they lose the role when "
                "the bot next starts"
            )
        done = await roles.revoke(who, cli_actor(), now)
        print(f"{who} is no longer an admin" if done else f"{who} was not an admin")
        return 0
    finally:
        await engine.dispose()
