"""aiogram 3: the default adapter. Thin: aiogram parses and dispatches, the bridge decides."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    MenuButtonCommands,
    Message,
    Update,
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


async def _mapped(call: Awaitable[T]) -> T:
    """Run a call, turning aiogram's exceptions into the bridge's."""
    try:
        return await call
    except TelegramRetryAfter as exc:
        raise RetryLater(float(exc.retry_after)) from exc
    except TelegramForbiddenError as exc:
        raise Unreachable(exc.message) from exc
    except TelegramBadRequest as exc:
        if "chat not found" in exc.message.lower():
            raise Unreachable(exc.message) from exc
        raise Rejected(exc.message) from exc
    except (TimeoutError, TelegramServerError, TelegramNetworkError) as exc:
        raise Transient(str(exc)) from exc
    except TelegramAPIError as exc:
        raise Rejected(exc.message) from exc
    except ClientDecodeError as exc:
        # The body was not JSON (a proxy's HTML 502 page, a cut-off 200) or not a Bot API
        # answer; aiogram raises this before it looks at the status, so a proxy's 4xx page
        # comes here too. Telegram's own errors are JSON and handled above.
        answer = exc.data if isinstance(exc.data, dict) else None
        if answer is not None and answer.get("ok") is True:
            # Telegram did it and only its result can't be read: sending again would repeat it.
            raise Rejected(f"{exc.message}: {str(exc.original)[:200]}") from exc
        raise Transient(f"not a Bot API answer ({exc.message}): {str(exc.data)[:200]}") from exc


class AiogramApi:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.username = ""

    async def send_text(self, chat_id: int, text: str, keyboard: Keyboard | None) -> Sent:
        markup = (
            InlineKeyboardMarkup(
                inline_keyboard=[
                    [
                        InlineKeyboardButton(text=label, url=data)
                        if is_link(data)
                        else InlineKeyboardButton(text=label, callback_data=data)
                        for label, data in row
                    ]
                    for row in keyboard
                ]
            )
            if keyboard
            else None
        )
        message = await _mapped(self.bot.send_message(chat_id, text, reply_markup=markup))
        return Sent(message.message_id)

    async def send_media(self, chat_id: int, kind: str, file_id: str | None, path: str) -> Sent:
        return await self._send_file(chat_id, kind, file_id or FSInputFile(path))

    async def send_upload(self, chat_id: int, kind: str, filename: str, data: bytes) -> Sent:
        return await self._send_file(chat_id, kind, BufferedInputFile(data, filename))

    async def _send_file(self, chat_id: int, kind: str, media: str | InputFile) -> Sent:
        message: Message
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
                [BotCommand(command=c, description=d) for c, d in commands], language_code=language
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


def _pin_response_types() -> list[type]:
    """aiogram reads every answer as `Response[<its result type>]`, a pydantic generic that
    pydantic caches only weakly: after each garbage collection the next call of that method
    builds the class again (measured at 4-17 ms, a sixth of an update's CPU). Holding the
    classes for the methods we call keeps them built."""
    from aiogram import methods

    used = (
        methods.SendMessage,
        methods.SendPhoto,
        methods.SendDocument,
        methods.SendVoice,
        methods.AnswerCallbackQuery,
        methods.EditMessageReplyMarkup,
        methods.GetMe,
        methods.SetMyCommands,
        methods.SetChatMenuButton,
        methods.SetWebhook,
        methods.DeleteWebhook,
    )
    return [methods.Response[method.__returning__] for method in used]  # type: ignore[name-defined]


_PINNED: list[type] = []


class AiogramAdapter:
    def __init__(self, token: str, api_url: str) -> None:
        if not _PINNED:
            _PINNED.extend(_pin_response_types())
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
        self.bot = Bot(token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
        self.api = AiogramApi(self.bot)
        self.dispatcher = Dispatcher()

    async def start(self, on_update: Callable[[Any], Awaitable[None]] | None) -> None:
        """Connect; with `on_update`, also route updates to it (None: sending only)."""

        async def handler(_event: object, event_update: Update) -> None:
            assert on_update is not None
            await on_update(read_update(event_update))

        if on_update is not None:
            for observer in (
                self.dispatcher.message,
                self.dispatcher.edited_message,
                self.dispatcher.callback_query,
                self.dispatcher.my_chat_member,
            ):
                observer.register(handler)
        me = await _mapped(self.bot.get_me())
        self.api.username = me.username or ""

    async def feed(self, update: dict[str, Any]) -> None:
        """Parse and dispatch one update from the inbox; raises if aiogram can't parse it."""
        await self.dispatcher.feed_raw_update(self.bot, update)

    async def close(self) -> None:
        await self.bot.session.close()
