"""The framework-neutral Telegram channel: updates in, engine events out, replies delivered.

Both adapters feed `TelegramBridge.handle` and give it a `BotApi`; everything a learner sees is
decided here once, so aiogram and python-telegram-bot behave identically.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from bot.channels.capabilities import TELEGRAM
from bot.channels.media import sendable
from bot.channels.signing import key_from_token, sign, verify
from bot.channels.telegram.admin import ADMIN_COMMANDS, AdminDesk
from bot.channels.telegram.admin import PREFIX as ADMIN_PREFIX
from bot.channels.telegram.api import (
    BotApi,
    Keyboard,
    Rejected,
    RetryLater,
    Transient,
    Unreachable,
)
from bot.channels.telegram.incoming import Incoming
from bot.channels.telegram.polling import update_key
from bot.channels.telegram.split import split_text
from bot.channels.typed import typed_event
from bot.engine import Command, Event, Press, Say, Text, Unsupported
from bot.engine.context import N_
from bot.service import LessonService, one_at_a_time
from bot.store import Identity
from bot.store.inbox import claim, report_done

log = logging.getLogger(__name__)
T = TypeVar("T")
CHANNEL = "telegram"

# Telegram wants ISO 639-1 codes for command lists; Filipino has none, Tagalog's is closest.
_COMMAND_LANGUAGE = {"fil": "tl"}
# The longest 429 pause a reply waits out in place; a longer one goes back to the reply outbox.
INLINE_PAUSE = 1.0
COMMAND_HELP = {
    "start": N_("Start or choose a course"),
    "continue": N_("Go on where you left off"),
    "menu": N_("All courses"),
    "progress": N_("What you have done"),
    "language": N_("Change language"),
    "country": N_("Change country"),
    "schemes": N_("Government programmes we checked"),
    "scammed": N_("Help now if you are being scammed"),
    "certificate": N_("Get or resend a certificate"),
    "mydata": N_("Everything we keep about you"),
    "delete": N_("Erase your data"),
    "stop": N_("No more reminders"),
    "help": N_("How to use this bot"),
}


class TelegramBridge:
    def __init__(
        self,
        service: LessonService,
        api: BotApi,
        bot_token: str,
        *,
        admin: AdminDesk | None = None,
        max_attempts: int = 6,
        backoff: float = 0.5,
        backoff_cap: float = 30.0,
    ) -> None:
        self.service = service
        self.api = api
        self.admin = admin
        self._key = key_from_token(bot_token)
        self._max_attempts = max_attempts
        # Jitter, so learners cut off by the same outage don't all retry in the same instant.
        self._backoff = wait_exponential(multiplier=backoff, max=backoff_cap) + wait_random(
            0, backoff
        )
        service.senders[CHANNEL] = one_at_a_time(self.send)

    # -- incoming ------------------------------------------------------------------------------

    async def handle(self, update: Incoming) -> None:
        """Handle one update. Never raises: a failure is logged and the learner told."""
        try:
            await self._handle(update)
        except Exception:
            log.exception("unhandled error for update %s", update.update_id)

    async def _handle(self, update: Incoming) -> None:
        who = Identity(CHANNEL, str(update.user_id), update.first_name, update.language)
        if update.kind == "ignored" or not update.user_id:
            return
        if update.kind == "member":
            if update.chat_type != "private":
                # The bot added to or removed from a group says nothing about whether the
                # person who did it can be reached in their private chat with it.
                return
            blocked = update.member_status in ("kicked", "left")
            await self.service.store.set_status(who, "blocked" if blocked else "active")
            return
        if update.kind == "callback":
            # Stop the spinner first; on a slow connection the learner is watching it.
            await self._try(self.api.answer_callback(update.callback_id))
        if update.chat_type != "private":
            await self._private_only(update, who)
            return
        event = self._event(update)
        if await self._for_admin(update, who, event):
            return
        delivered = await self.service.handle(who, event, update_key=update_key(update.update_id))
        if delivered and update.kind == "callback" and update.message_id:
            # A pressed keyboard goes away, so a second press can't answer twice.
            await self._try(self.api.clear_keyboard(update.chat_id, update.message_id))

    async def _for_admin(self, update: Incoming, who: Identity, event: Event) -> bool:
        """Handle an admin command or button; False if it isn't one, or the user isn't admin."""
        if self.admin is None:
            return False
        command = isinstance(event, Command) and event.name in ADMIN_COMMANDS
        button = isinstance(event, Press) and event.token.startswith(ADMIN_PREFIX)
        typed = isinstance(event, Text) and self.admin.writing(update.user_id)
        if not (command or button or typed):
            return False
        if not await self.admin.is_admin(update.user_id):
            return False  # the engine answers as for any unknown command or stale button
        # Deduplicated like a learner's update, so a redelivery is not handled twice. It is
        # marked done before it is handled: an admin's action happens at most once, and one
        # lost to a crash is simply asked again. (Queuing a broadcast is also once per preview:
        # see bot.broadcast.drafts.)
        key = update_key(update.update_id)
        now = datetime.now(UTC)
        first_time = await self.service.store.transact(lambda conn: claim(conn, key, now))
        report_done(key)
        if not first_time:
            log.info("admin update %s was handled before; skipped", key)
            return True
        if isinstance(event, Command):
            messages = await self.admin.command(update.user_id, event.name)
        elif isinstance(event, Text):
            messages = await self.admin.text(update.user_id, event.text)
        else:
            assert isinstance(event, Press)
            await self._try(self.api.clear_keyboard(update.chat_id, update.message_id))
            messages = await self.admin.press(update.user_id, update.first_name, event.token)
        await self.deliver(who, update.chat_id, messages)
        return True

    def _event(self, update: Incoming) -> Event:
        if update.kind == "callback":
            token = verify(self._key, update.user_id, update.text)
            if token is None:
                log.warning("refused a forged button from %s", update.user_id)
            return Press(token or "")
        if update.kind in ("other", "edited"):
            return Unsupported(update.kind)
        return typed_event(update.text)

    async def _private_only(self, update: Incoming, who: Identity) -> None:
        if update.kind not in ("text", "callback"):
            return
        locale = self.service.locale_for(update.language)
        text = self.service.texts.ui(
            locale,
            "I teach one person at a time. Please talk to me in a private chat: https://t.me/{bot}",
        ).format(bot=self.api.username)
        await self._try(self.api.send_text(update.chat_id, text, None))

    # -- outgoing ------------------------------------------------------------------------------

    async def send(self, address: str, message: Say) -> None:
        """Send one message (its media, then its text in chunks, buttons on the last chunk).

        Pauses and outages longer than a moment are raised, for the reply outbox to wait out
        without holding this learner's other updates or the webhook request.
        """
        chat_id = int(address)
        message = sendable(message, TELEGRAM)
        media = message.media
        if media is not None and media.data is not None:
            # Made for this learner (a certificate): nothing to reuse, upload it.
            await self.call(
                partial(self.api.send_upload, chat_id, media.kind, media.path, media.data),
                max_pause=INLINE_PAUSE,
            )
        elif media is not None and media.kind == "audio":
            try:
                await self._send_media(chat_id, media.kind, media.path)
            except Rejected as exc:
                # A clip is an extra beside the text: refused (the learner allows no voice
                # messages, a broken file), the text still goes.
                log.warning("a clip for %s was refused, the text goes alone: %s", chat_id, exc)
        elif media is not None:
            await self._send_media(chat_id, media.kind, media.path)
        if not message.text.strip() and not message.buttons:
            return  # a message that was only its media (a clip before a step's picture)
        chunks = split_text(message.text)
        for i, chunk in enumerate(chunks):
            keyboard = self._keyboard(chat_id, message) if i == len(chunks) - 1 else None
            await self.call(
                partial(self.api.send_text, chat_id, chunk, keyboard), max_pause=INLINE_PAUSE
            )

    async def deliver(self, who: Identity, chat_id: int, messages: list[Say]) -> None:
        """Send an admin's replies directly, in order; stop at a chat that can't be reached."""
        try:
            for message in messages:
                await self.send(str(chat_id), message)
        except Unreachable as exc:
            log.info("learner %s is unreachable: %s", who.external_id, exc)
            await self.service.store.set_status(who, "blocked")
        except Exception:
            log.exception("could not deliver to %s", who.external_id)

    def _keyboard(self, user_id: int, message: Say) -> Keyboard | None:
        if not message.buttons:
            return None
        return [
            [(b.label, sign(self._key, user_id, b.token)) for b in row] for row in message.buttons
        ]

    async def _send_media(self, chat_id: int, kind: str, path: str) -> None:
        """Upload a file once; after that send Telegram's id for it."""
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        file_id = await self.service.store.media_id(CHANNEL, path, digest)
        sent = await self.call(
            lambda: self.api.send_media(chat_id, kind, file_id, path), max_pause=INLINE_PAUSE
        )
        if file_id is None and sent.file_id:
            await self.service.store.remember_media(CHANNEL, path, digest, sent.file_id)

    async def call(self, make: Callable[[], Awaitable[T]], *, max_pause: float | None = None) -> T:
        """One Bot API call: wait out 429s, back off on 5xx and network errors, up to a cap.

        With `max_pause`, a 429 asking for a longer wait is raised at once instead.
        """

        # The first try is made here, and tenacity is set up only if it fails: a retrying
        # loop leaves about 40 objects in reference cycles per call, and on every reply that
        # garbage made the collector run several times as often.
        try:
            return await make()
        except Exception as exc:
            failed: Exception | None = exc

        def waitable(exc: BaseException) -> bool:
            if isinstance(exc, RetryLater):
                return max_pause is None or exc.seconds <= max_pause
            return isinstance(exc, Transient)

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(waitable),
            wait=self._wait,
            stop=stop_after_attempt(self._max_attempts),
            reraise=True,
        ):
            with attempt:
                if failed is not None:  # the first try, replayed: tenacity judges it as its own
                    first, failed = failed, None
                    raise first
                return await make()
        raise AssertionError("unreachable")  # AsyncRetrying either returns or raises

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryLater):
            return exc.seconds
        return float(self._backoff(state))

    async def _try(self, call: Awaitable[object]) -> None:
        """A call whose failure must not stop the reply (answering a press, clearing buttons)."""
        try:
            await call
        except Exception as exc:
            log.info("non-essential Telegram call failed: %s", exc)

    # -- setup ---------------------------------------------------------------------------------

    async def register_commands(self) -> None:
        """The command menu in every shipped language, and the menu button."""
        texts, default = self.service.texts, self.service.default_locale
        for locale in self.service.languages:
            commands = [(name, texts.ui(locale, desc)) for name, desc in COMMAND_HELP.items()]
            language = None if locale == default else _COMMAND_LANGUAGE.get(locale, locale)
            await self.call(partial(self.api.set_commands, commands, language))
        await self.call(self.api.set_menu_button)
