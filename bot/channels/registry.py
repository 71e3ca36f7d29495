"""Which channels a configuration turns on, without importing any messaging library.

Telegram is on when BOT_TOKEN is set; every other channel when its token is, and its module
(`bot.channels.<name>.runner`) is imported only then, so `lint`, `chat` and `report` stay quick.
Each such module has the same shape: CHANNEL, REQUIRED, configured(settings),
check_settings(settings), make_sender(settings, engine) and a `Service` that `lessonbot run`
serves (see bot/channels/runner.py).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from bot.config import Settings

# channel -> the setting that turns it on
WEBHOOK_CHANNELS: dict[str, str] = {
    "whatsapp": "whatsapp_token",
    "line": "line_channel_access_token",
    "messenger": "messenger_page_token",
    "zalo": "zalo_oa_access_token",
}


def webhook_channels(settings: Settings) -> list[str]:
    """The webhook channels this configuration turns on, in a fixed order."""
    return [name for name, token in WEBHOOK_CHANNELS.items() if getattr(settings, token)]


def configured_channels(settings: Settings) -> list[str]:
    """Every channel this configuration sends on."""
    return (["telegram"] if settings.bot_token else []) + webhook_channels(settings)


def runner_of(channel: str) -> ModuleType:
    """The channel's runner module (imports its messaging library)."""
    return importlib.import_module(f"bot.channels.{channel}.runner")
