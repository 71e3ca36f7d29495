"""python-telegram-bot 21+: the alternative adapter (`TELEGRAM_FRAMEWORK=ptb`)."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

# PTB 22 is moving time periods from int to timedelta and warns on every 429 until one opts
# in; we opt in (the documented switch) and handle timedelta below.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    MenuButtonCommands,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ContextTypes,
    TypeHandler,
)

from bot.channels.telegram.api import (
    ALLOWED_UPDATES,
    Keyboard,
    Rejected,
    RetryLater,
    Sent,
    Transient,
    Unreachable,
    is_link,
)
from bot.channels.telegram.incoming import read_update

T = TypeVar("T")


def _seconds(exc: RetryAfter) -> float:
    value: int | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _not_json(exc: TelegramError) -> bool:
    """Whether ptb raised this because the answer's body was not JSON (a proxy's error page).

    ptb's `BaseRequest.parse_json_payload` raises TelegramError("Invalid server response")
    from the JSONDecodeError: as is for a 2xx, or as the cause of the error it makes from the
    status (NetworkError for a 5xx, BadRequest for a 400, Forbidden for a 403).
    """
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, json.JSONDecodeError):
            return True
        cause = cause.__cause__
    return False


async def _mapped(call: Awaitable[T]) -> T:
    """Run a call, turning python-telegram-bot's exceptions into the bridge's."""
    try:
        return await call
    except TelegramError as exc:
        if _not_json(exc):
            # Telegram's own answers are JSON, so this came from something in between: retry
            # it, whatever its status (a proxy's 403 page must not mark the learner blocked).
            raise Transient(f"not a Bot API answer: {str(exc)[:200]}") from exc
        if isinstance(exc, RetryAfter):
            raise RetryLater(_seconds(exc)) from exc
        if isinstance(exc, Forbidden):
            raise Unreachable(exc.message) from exc
        if isinstance(exc, BadRequest):  # before NetworkError, its base class
            if "chat not found" in exc.message.lower():
                raise Unreachable(exc.message) from exc
            raise Rejected(exc.message) from exc
        if isinstance(exc, NetworkError):  # includes TimedOut and 5xx
            raise Transient(str(exc)) from exc
        raise Rejected(exc.message) from exc
    except TimeoutError as exc:
        raise Transient(str(exc)) from exc


class PtbApi:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.username = ""

    async def send_text(self, chat_id: int, text: str, keyboard: Keyboard | None) -> Sent:
        markup = (
            InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(label, url=data)
                        if is_link(data)
                        else InlineKeyboardButton(label, callback_data=data)
                        for label, data in row
                    ]
                    for row in keyboard
                ]
            )
            if keyboard
            else None
        )
        message = await _mapped(
            self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup)
        )
        return Sent(message.message_id)

    async def send_media(self, chat_id: int, kind: str, file_id: str | None, path: str) -> Sent:
        return await self._send_file(chat_id, kind, file_id or Path(path))

    async def send_upload(self, chat_id: int, kind: str, filename: str, data: bytes) -> Sent:
        return await self._send_file(chat_id, kind, InputFile(data, filename=filename))

    async def _send_file(self, chat_id: int, kind: str, media: Any) -> Sent:
        if kind == "photo":
            message = await _mapped(self.bot.send_photo(chat_id, media))
            new_id = message.photo[-1].file_id if message.photo else None
        elif kind == "audio":  # a voice message: see BotApi.send_media
            message = await _mapped(self.bot.send_voice(chat_id, media))
            new_id = message.voice.file_id if message.voice else None
        else:
            message = await _mapped(self.bot.send_document(chat_id, media))
            new_id = message.document.file_id if message.document else None
        return Sent(message.message_id, new_id)

    async def answer_callback(self, callback_id: str) -> None:
        await _mapped(self.bot.answer_callback_query(callback_id))

    async def clear_keyboard(self, chat_id: int, message_id: int) -> None:
        await _mapped(
            self.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=None
            )
        )

    async def set_commands(self, commands: list[tuple[str, str]], language: str | None) -> None:
        await _mapped(
            self.bot.set_my_commands(
                [BotCommand(c, d) for c, d in commands], language_code=language
            )
        )

    async def set_menu_button(self) -> None:
        await _mapped(self.bot.set_chat_menu_button(menu_button=MenuButtonCommands()))

    async def set_webhook(self, url: str, secret: str) -> None:
        await _mapped(
            self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        )

    async def delete_webhook(self) -> None:
        await _mapped(self.bot.delete_webhook())


class PtbAdapter:
    def __init__(self, token: str, api_url: str) -> None:
        base = api_url.rstrip("/")
        # Wait for a slow answer as long as aiogram does (its session gives a whole call 60 s,
        # aiogram.client.session.base.DEFAULT_TIMEOUT), so both frameworks behave alike. ptb's
        # defaults (5 s to read, 1 s for a free connection) give up on an answer that is still
        # coming: the bridge then sends again, and the learner gets the reply twice, because
        # the first request had arrived. Every phase gets the same 60 s: httpx times each one
        # separately, and aiogram's budget covers them all. getUpdates adds its long-poll
        # timeout to the read timeout, as aiogram adds it to the session's.
        timeout = 60.0
        # concurrent_updates: learners are served at once; the service keeps each one in order.
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(token)
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            .concurrent_updates(True)
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .write_timeout(timeout)
            .pool_timeout(timeout)
            .media_write_timeout(timeout)  # uploads: ptb's default is 20 s
            .get_updates_connect_timeout(timeout)
            .get_updates_read_timeout(timeout)
            .get_updates_write_timeout(timeout)
            .get_updates_pool_timeout(timeout)
            .build()
        )
        self.api = PtbApi(self.app.bot)

    async def start(self, on_update: Callable[[Any], Awaitable[None]] | None) -> None:
        """Connect; with `on_update`, also route updates to it (None: sending only)."""

        async def handler(update: Update, _ctx: ContextTypes.DEFAULT_TYPE) -> None:
            assert on_update is not None
            await on_update(read_update(update))

        await _mapped(self.app.initialize())
        if on_update is not None:
            self.app.add_handler(TypeHandler(Update, handler))
            await self.app.start()
        self.api.username = self.app.bot.username or ""

    async def feed(self, update: dict[str, Any]) -> None:
        """Parse and dispatch one update from the inbox; raises if ptb can't parse it."""
        await self.app.process_update(Update.de_json(update, self.app.bot))

    async def close(self) -> None:
        # getUpdates is driven by bot.channels.telegram.polling, so ptb's own updater never
        # runs; a stop (SIGTERM, a test) can land before `start` has started the application.
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
