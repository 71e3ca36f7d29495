"""Polling that acknowledges an update only once it is stored.

Telegram forgets an update as soon as we ask for the next offset. The frameworks' own polling
loops ask while the update is still being handled, so a crash then loses it. This loop asks
only after the batch is committed to the inbox, and hands nothing to the framework itself:
the inbox worker feeds stored updates to the framework's dispatcher. It reads the raw JSON, so
one update the framework cannot parse is set aside there instead of failing the whole batch.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot.channels.telegram.api import ALLOWED_UPDATES
from bot.channels.telegram.incoming import update_id
from bot.errors import ConfigError
from bot.store.inbox import Inbox

log = logging.getLogger(__name__)

CHANNEL = "telegram"
LONG_POLL = 25  # seconds Telegram may hold a getUpdates open; below common proxy timeouts
BACKOFF_CAP = 30.0


def update_key(raw_id: Any) -> str:
    """The inbox key of an update: its id, or for an id too long to store, a stable digest."""
    return f"{CHANNEL}:{update_id(raw_id)}"


def sender_of(update: dict[str, Any]) -> str | None:
    """The user an update comes from, to keep each user's updates in order."""
    for field in ("message", "edited_message", "callback_query", "my_chat_member"):
        body = update.get(field)
        if isinstance(body, dict) and isinstance(body.get("from"), dict):
            return str(body["from"].get("id"))
    return None


class PollFailed(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Poller:
    def __init__(
        self,
        api_url: str,
        token: str,
        inbox: Inbox,
        on_stored: Callable[[list[tuple[str, dict[str, Any]]]], None],
        *,
        long_poll: int = LONG_POLL,
    ) -> None:
        self._url = f"{api_url.rstrip('/')}/bot{token}/getUpdates"
        self.inbox = inbox
        self._on_stored = on_stored
        self._long_poll = long_poll

    async def run(self) -> None:
        offset = 0
        failures = 0
        timeout = aiohttp.ClientTimeout(total=self._long_poll + 15)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                try:
                    updates = await self._fetch(http, offset)
                    offset = await self._store(updates, offset)
                    failures = 0
                except (PollFailed, aiohttp.ClientError, TimeoutError) as exc:
                    failures += 1
                    wait = getattr(exc, "retry_after", None) or min(2.0**failures, BACKOFF_CAP)
                    log.warning("getUpdates failed (%s); again in %.0f s", _reason(exc), wait)
                    await asyncio.sleep(wait)
                except Exception:
                    # The database refused the batch: nothing was acknowledged, so fetch it again.
                    failures += 1
                    log.exception("could not store updates; fetching them again")
                    await asyncio.sleep(min(2.0**failures, BACKOFF_CAP))

    async def _fetch(self, http: aiohttp.ClientSession, offset: int) -> list[Any]:
        body = {"offset": offset, "timeout": self._long_poll, "allowed_updates": ALLOWED_UPDATES}
        async with http.post(self._url, json=body) as response:
            raw = await response.read()
        try:
            answer = json.loads(raw)
        except ValueError:
            raise PollFailed(f"HTTP {response.status} with a body that is not JSON") from None
        if not isinstance(answer, dict):
            raise PollFailed(f"HTTP {response.status} with an unexpected body")
        if answer.get("ok") is True and isinstance(answer.get("result"), list):
            return list(answer["result"])
        code = answer.get("error_code", response.status)
        description = str(answer.get("description", ""))
        if code == 401:
            raise ConfigError("Telegram refused BOT_TOKEN (401 Unauthorized): check the token")
        retry_after = (answer.get("parameters") or {}).get("retry_after")
        raise PollFailed(f"{code} {description}", float(retry_after) if retry_after else None)

    async def _store(self, updates: list[Any], offset: int) -> int:
        """Commit the batch to the inbox; return the offset that acknowledges it."""
        batch: list[tuple[str, dict[str, Any]]] = []
        for update in updates:
            update_id = update.get("update_id") if isinstance(update, dict) else None
            if not isinstance(update_id, int):
                log.error("getUpdates returned an item without an update_id; skipped")
                continue
            batch.append((update_key(update_id), update))
            offset = max(offset, update_id + 1)
        if batch:
            await self.inbox.receive(CHANNEL, batch, datetime.now(UTC))
            self._on_stored(batch)
        return offset


def _reason(exc: BaseException) -> str:
    # aiohttp's messages name the URL, which holds the token; the log filter masks it anyway.
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
