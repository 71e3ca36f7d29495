"""Loopback fake of the Telegram Bot API that real clients (aiogram, ptb) talk HTTP to.

Each call is validated against aiogram's pydantic model for the method and the common
server-side limits (text length, callback_data size, HTML markup) are enforced, so tests
catch what real Telegram would reject. See tests/test_fakebotapi.py for usage.

Voice and audio (core.telegram.org/bots/api#sendvoice and #sendaudio, checked 2026-12-03, as
the installed aiogram's models quote them):
- sendVoice takes an .OGG file encoded with OPUS, an .MP3 or an .M4A, up to 50 MB; sendAudio
  an .MP3 or an .M4A, up to 50 MB. Telegram says other formats "may be sent as Audio or
  Document": the fake refuses an upload whose bytes are none of those (stricter on purpose,
  so a clip the bot mislabels fails here), and answers one over 50 MB 413, as the Bot API
  answers a request too large.
- a file id sent again must be one Telegram gave for that kind of file: the fake answers an
  id it never gave "wrong file identifier/HTTP URL specified" and one of another kind "type
  of file mismatch" (both 400, the Bot API's wording), for sendVoice and sendAudio.
- forbid_voice(chat): the learner's privacy settings refuse voice messages (a Telegram
  Premium setting); sendVoice to them answers 400 "Bad Request: VOICE_MESSAGES_FORBIDDEN"
  (github.com/openclaw/openclaw/pull/1725 and AstrBotDevs/AstrBot#5188 quote the answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import time
import types
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, get_args

import aiogram.methods
from aiogram.client.default import Default
from aiogram.methods.base import TelegramMethod
from aiogram.types import BufferedInputFile
from aiohttp import web
from pydantic import ValidationError

JSON = dict[str, Any]
MethodModel = type[TelegramMethod[Any]]

ALLOWED_HTML_TAGS = frozenset({
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
    "blockquote", "tg-spoiler", "span", "tg-emoji",
})  # fmt: skip
# In Telegram HTML a "<" must always open a well-formed tag; anything else is a parse error.
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][\w-]*)(\s[^<>]*)?>")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
SENT_MESSAGE_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendVoice", "sendAudio"}
)
MAX_UPLOAD = 50 << 20  # what bots may send, voice messages and audio files alike
# What each sends, by the file's first bytes (the Bot API docs above).
AUDIO_FORMATS = {"sendVoice": ("ogg", "mp3", "m4a"), "sendAudio": ("mp3", "m4a")}
# send method -> (Message field, extra fields the clients require on that media object)
_MEDIA: dict[str, tuple[str, JSON]] = {
    "sendPhoto": ("photo", {}), "sendDocument": ("document", {}),
    "sendVideo": ("video", {"width": 640, "height": 360, "duration": 1}),
    "sendAnimation": ("animation", {"width": 320, "height": 240, "duration": 1}),
    "sendAudio": ("audio", {"duration": 1}), "sendVoice": ("voice", {"duration": 1}),
    "sendVideoNote": ("video_note", {"length": 240, "duration": 1}),
    "sendSticker": ("sticker", {"type": "regular", "width": 512, "height": 512,
                                "is_animated": False, "is_video": False}),
}  # fmt: skip
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


@dataclass
class UploadedFile:
    name: str  # multipart part name
    filename: str | None
    size: int
    content_type: str | None = None
    data: bytes = b""


@dataclass
class Call:
    method: str  # canonical spelling, e.g. "sendMessage"
    params: JSON  # decoded; uploaded files appear as UploadedFile values
    token: str
    time: float  # time.monotonic(): handy for asserting throttling gaps
    status: int = 200
    files: list[UploadedFile] = field(default_factory=list)
    result: Any = None  # what the fake answered, e.g. the sent Message with its message_id
    raw: str | None = None  # a non-JSON body answered instead (fail_next(..., body=...))


@dataclass
class _Fault:
    method: str | None  # lower-cased; None = anything but getUpdates
    status: int
    description: str
    retry_after: int | None
    times: int
    body: str | None = None  # answer this raw text instead of a Bot API JSON error
    content_type: str = "text/html"


@dataclass
class _Periodic:
    fault: _Fault  # its `times` is the period
    seen: int = 0  # matching calls so far


class ApiError(Exception):
    def __init__(
        self, status: int, description: str, retry_after: int | None = None,
        body: str | None = None, content_type: str = "text/html",
    ) -> None:  # fmt: skip
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after
        self.body, self.content_type = body, content_type


@cache
def method_models() -> dict[str, MethodModel]:
    """Lower-cased Bot API method name -> aiogram model class."""
    return {
        cls.__api_method__.lower(): cls
        for cls in vars(aiogram.methods).values()
        if isinstance(cls, type) and issubclass(cls, TelegramMethod)
        and isinstance(getattr(cls, "__api_method__", None), str)
    }  # fmt: skip


def _is_str_field(model: MethodModel, name: str) -> bool:
    """True if the field only holds plain strings, so its value must never be JSON-decoded."""
    info = model.model_fields.get(name)
    ann = info.annotation if info else str  # unknown field: leave it alone
    args = get_args(ann) if isinstance(ann, types.UnionType) else (ann,)
    return all(a is str for a in args if a not in (types.NoneType, Default))


def _parse_error(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {detail}")


def parse_html(text: str) -> str:
    """Check Telegram-style HTML and return the plain text it renders to."""
    stack: list[str] = []
    plain: list[str] = []
    pos = 0
    while (lt := text.find("<", pos)) != -1:
        plain.append(text[pos:lt])
        m = _TAG_RE.match(text, lt)
        at = f"at byte offset {len(text[:lt].encode())}"
        if m is None:
            raise _parse_error(f"Unsupported start tag {at}")
        closing, tag = m.group(1) == "/", m.group(2).lower()
        if tag not in ALLOWED_HTML_TAGS:
            raise _parse_error(f'Unsupported start tag "{tag}" {at}')
        if not closing:
            stack.append(tag)
        elif not stack or stack[-1] != tag:
            expected = f', expected "</{stack[-1]}>"' if stack else ""
            raise _parse_error(f'Unmatched end tag {at}{expected}, found "</{tag}>"')
        else:
            stack.pop()
        pos = m.end()
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return html.unescape("".join([*plain, text[pos:]]))


def _audio_format(data: bytes) -> str:
    """The format of a file by its first bytes: ogg (Ogg with Opus), mp3, m4a, or "" if none."""
    if data.startswith(b"OggS") and b"OpusHead" in data[:64]:
        return "ogg"
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] >= 0xE0):
        return "mp3"
    return "m4a" if data[4:8] == b"ftyp" else ""


def _plain(text: str, p: JSON) -> str:
    return parse_html(text) if str(p.get("parse_mode", "")).lower() == "html" else text


class FakeBotAPI:
    def __init__(self, *, max_poll_wait: float = 0.5) -> None:
        self.max_poll_wait = max_poll_wait  # caps getUpdates long-polls so tests stay fast
        self.calls: list[Call] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._updates: list[JSON] = []
        self._last_update_id = 0
        self._new_update = asyncio.Event()
        self._faults: list[_Fault] = []
        self._periodic: list[_Periodic] = []  # from fail_every
        self._blocked: dict[str, tuple[int, str]] = {}  # str(chat_id) -> (status, description)
        self._delay = 0.0
        self._slow: list[tuple[str, float]] = []  # (method, seconds): delay_next()
        self._msg_ids: dict[str, int] = {}  # per chat, shared by user and bot messages
        self._messages: dict[tuple[str, int], JSON] = {}  # what the bot sent/edited
        self._results: dict[str, Any] = {}
        self._counter = itertools.count(1)
        self._bot_id = 1  # taken from the last token seen
        self._file_kinds: dict[str, str] = {}  # file_id -> kind ("voice"), for the ids it gave
        self._no_voice: set[str] = set()  # chats whose privacy settings refuse voice messages
        self.listeners: list[Callable[[Call], None]] = []  # told of each answered call

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=64 << 20)  # uploads may exceed the 1 MiB default
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- inspection ------------------------------------------------------------------
    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def sent_messages(self, chat_id: int | str | None = None) -> list[Call]:
        """Successful sendMessage/sendPhoto/sendDocument calls, optionally to one chat."""
        return [
            c for c in self.calls
            if c.method in SENT_MESSAGE_METHODS and c.status == 200 and c.raw is None
            and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
        ]  # fmt: skip

    def clear_calls(self) -> None:
        self.calls.clear()

    # -- behaviour control -----------------------------------------------------------
    def fail_next(
        self, method: str | None, status: int, description: str = "",
        retry_after: int | None = None, times: int = 1,
        body: str | None = None, content_type: str = "text/html",
    ) -> None:  # fmt: skip
        """Fail the next `times` matching calls (method=None: any method but getUpdates).

        With `body`, answer that raw text (a proxy's HTML error page, a cut-off answer) with
        `status` and `content_type` instead of a Bot API error; a 200 like that is not sent.
        """
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after  # clients need a number
            description = description or f"Too Many Requests: retry after {retry_after}"
        description = description or f"Error {status}"
        fault = _Fault(method and method.lower(), status, description, retry_after, times)
        fault.body, fault.content_type = body, content_type
        self._faults.append(fault)

    def fail_every(
        self, method: str | None, n: int, status: int, description: str = "",
        retry_after: int | None = None,
    ) -> None:  # fmt: skip
        """Fail every `n`th matching call (the nth, the 2nth, ...) for as long as the fake runs;
        each call of this counts on its own. method=None: any method but getUpdates."""
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after  # clients need a number
            description = description or f"Too Many Requests: retry after {retry_after}"
        description = description or f"Error {status}"
        fault = _Fault(method and method.lower(), status, description, retry_after, n)
        self._periodic.append(_Periodic(fault))

    def clear_faults(self) -> None:
        """Forget every fault still to come (from `fail_next`)."""
        self._faults.clear()

    def block_chat(self, chat_id: int | str, description: str = "") -> None:
        self._blocked[str(chat_id)] = (403, description or "Forbidden: bot was blocked by the user")

    def chat_not_found(self, chat_id: int | str) -> None:
        self._blocked[str(chat_id)] = (400, "Bad Request: chat not found")

    def unblock_chat(self, chat_id: int | str) -> None:
        self._blocked.pop(str(chat_id), None)

    def forbid_voice(self, chat_id: int | str) -> None:
        """The user allows no voice messages (Telegram Premium's privacy setting)."""
        self._no_voice.add(str(chat_id))

    def delay(self, seconds: float) -> None:
        """Slow down every response except getUpdates."""
        self._delay = seconds

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Answer the next `times` calls of `method` `seconds` late (after doing them)."""
        self._slow.extend([(method.lower(), seconds)] * times)

    def set_result(self, method: str, result: Any) -> None:
        """Fix a method's result: a JSON value, or a callable taking the params dict."""
        self._results[method.lower()] = result

    # -- updates ---------------------------------------------------------------------
    def next_update_id(self) -> int:
        """An id for an update the test delivers itself (to a webhook), never reused."""
        self._last_update_id += 1
        return self._last_update_id

    def push_update(self, update: JSON) -> JSON:
        if "update_id" not in update:
            update["update_id"] = self._last_update_id + 1
        self._last_update_id = max(self._last_update_id, update["update_id"])
        self._updates.append(update)
        self._new_update.set()
        return update

    def make_message(
        self, user_id: int, text: str, chat_id: int | None = None,
        first_name: str = "Test", language_code: str = "en", **extra: Any,
    ) -> JSON:  # fmt: skip
        chat_id = user_id if chat_id is None else chat_id
        private = {"id": chat_id, "type": "private", "first_name": first_name}
        msg: JSON = {
            "message_id": self._next_message_id(str(chat_id)), "date": int(time.time()),
            "chat": private if chat_id > 0 else self._chat(chat_id),
            "from": self._user(user_id, first_name, language_code), "text": text,
        }  # fmt: skip
        if text.startswith("/"):  # ptb's CommandHandler relies on the bot_command entity
            command = text.split()[0]
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"message": {**msg, **extra}}

    def make_callback(
        self, user_id: int, data: str, message_id: int, chat_id: int | None = None,
        first_name: str = "Test", language_code: str = "en", **extra: Any,
    ) -> JSON:  # fmt: skip
        chat_id = user_id if chat_id is None else chat_id
        # Attach the message the bot really sent, if known, so its text/markup match.
        message = self._messages.get((str(chat_id), message_id))
        message = message or {**self._bot_message(chat_id, message_id), "text": "..."}
        query: JSON = {
            "id": str(next(self._counter)), "from": self._user(user_id, first_name, language_code),
            "chat_instance": str(zlib.crc32(str(chat_id).encode())), "data": data,
            "message": dict(message),
        }  # fmt: skip
        return {"callback_query": {**query, **extra}}

    def push_text(self, user_id: int, text: str, **kw: Any) -> JSON:
        return self.push_update(self.make_message(user_id, text, **kw))

    def push_callback(self, user_id: int, data: str, message_id: int, **kw: Any) -> JSON:
        return self.push_update(self.make_callback(user_id, data, message_id, **kw))

    # -- HTTP ------------------------------------------------------------------------
    async def _file(self, request: web.Request) -> web.Response:
        body = {"ok": False, "error_code": 404, "description": "Not Found"}
        return web.json_response(body, status=404)

    async def _handle(self, request: web.Request) -> web.Response:
        token, name = request.match_info["token"], request.match_info["method"]
        model = method_models().get(name.lower())
        call = Call(model.__api_method__ if model else name, {}, token, time.monotonic())
        self.calls.append(call)
        if token.split(":")[0].isdigit():
            self._bot_id = int(token.split(":")[0])
        try:
            if model is None:
                raise ApiError(404, "Not Found")
            validate = await self._read_params(request, model, call)
            call.result = await self._process(call, model, validate)
            body: JSON = {"ok": True, "result": call.result}
        except ApiError as e:
            call.status = e.status
            body = {"ok": False, "error_code": e.status, "description": e.description}
            if e.retry_after is not None:
                body["parameters"] = {"retry_after": e.retry_after}
            call.raw, raw_type = e.body, e.content_type
        if self._delay and call.method != "getUpdates":
            await asyncio.sleep(self._delay)
        if slow := next((s for s in self._slow if s[0] == call.method.lower()), None):
            self._slow.remove(slow)
            await asyncio.sleep(slow[1])
        for listener in self.listeners:
            listener(call)
        if call.raw is not None:
            return web.Response(text=call.raw, status=call.status, content_type=raw_type)
        return web.json_response(body, status=call.status)

    async def _read_params(self, request: web.Request, model: MethodModel, call: Call) -> JSON:
        """Fill call.params and call.files; return a copy of the params fit for validation."""
        raw: JSON = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method == "POST" and request.content_type == "application/json":
            try:
                raw.update(await request.json())
            except (ValueError, TypeError):
                raise ApiError(400, "Bad Request: can't parse JSON object") from None
        elif request.method == "POST":  # urlencoded or multipart
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    files[key] = UploadedFile(
                        key, value.filename, len(data), value.content_type, data
                    )
                else:
                    raw[key] = value
        # Form values are all strings, and ptb JSON-encodes non-strings even in JSON bodies.
        for key, value in raw.items():
            if isinstance(value, str) and not _is_str_field(model, key):
                with contextlib.suppress(ValueError):  # e.g. chat_id="@channel", a file_id
                    raw[key] = json.loads(value)
        used: set[str] = set()

        def resolve(value: Any, make: Callable[[UploadedFile], Any]) -> Any:
            # Swap "attach://<part>" references, possibly nested (media groups).
            if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
                used.add(value[9:])
                return make(files[value[9:]])
            if isinstance(value, dict):
                return {k: resolve(v, make) for k, v in value.items()}
            if isinstance(value, list):
                return [resolve(v, make) for v in value]
            return value

        def placeholder(f: UploadedFile) -> BufferedInputFile:  # satisfies InputFile fields
            return BufferedInputFile(b"", filename=f.filename or f.name)

        call.params, validate = resolve(raw, lambda f: f), resolve(raw, placeholder)
        for key, f in files.items():  # ptb names file parts after the parameter itself
            if key not in used:
                call.params[key], validate[key] = f, placeholder(f)
        call.files = list(files.values())
        return validate  # type: ignore[no-any-return]

    async def _process(self, call: Call, model: MethodModel, validate: JSON) -> Any:
        try:
            model.model_validate(validate)
        except ValidationError as e:
            details = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
            raise ApiError(400, f"Bad Request: {details}") from None
        p = call.params
        self._check_limits(call.method, p)
        if call.method in AUDIO_FORMATS:
            self._check_audio(call.method, p)
        if fault := self._take_fault(call.method):
            raise ApiError(
                fault.status, fault.description, fault.retry_after, fault.body, fault.content_type
            )
        if str(p.get("chat_id")) in self._blocked:
            raise ApiError(*self._blocked[str(p["chat_id"])])
        if call.method.lower() in self._results:
            result = self._results[call.method.lower()]
            return result(p) if callable(result) else result
        if call.method == "getUpdates":
            return await self._get_updates(p)
        return self._result(call.method, model, p)

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method == method.lower() or (fault.method is None and method != "getUpdates"):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        for periodic in self._periodic:
            fault = periodic.fault
            if fault.method == method.lower() or (fault.method is None and method != "getUpdates"):
                periodic.seen += 1
                if periodic.seen % fault.times == 0:
                    return fault
        return None

    def _check_limits(self, method: str, p: JSON) -> None:
        if method in ("sendMessage", "editMessageText"):
            text = _plain(p["text"], p)  # also rejects malformed HTML
            if not text.strip():
                raise ApiError(400, "Bad Request: message text is empty")
            if len(text) > 4096:
                raise ApiError(400, "Bad Request: message is too long")
        if isinstance(p.get("caption"), str) and len(_plain(p["caption"], p)) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        markup = p.get("reply_markup")
        for row in markup.get("inline_keyboard", []) if isinstance(markup, dict) else []:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        for cmd in p["commands"] if method == "setMyCommands" else []:
            if not _COMMAND_RE.fullmatch(cmd["command"]) or not 1 <= len(cmd["description"]) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")

    def _check_audio(self, method: str, p: JSON) -> None:
        kind = _MEDIA[method][0]
        source = p.get(kind)
        if isinstance(source, UploadedFile):
            if source.size > MAX_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            if _audio_format(source.data) not in AUDIO_FORMATS[method]:
                raise ApiError(400, f"Bad Request: wrong file type for {method} (the fake takes "
                               f"{', '.join(AUDIO_FORMATS[method])})")  # fmt: skip
        elif isinstance(source, str) and not source.startswith(("http://", "https://")):
            given = self._file_kinds.get(source)
            if given is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            if given != kind:
                raise ApiError(400, "Bad Request: type of file mismatch")
        if method == "sendVoice" and str(p.get("chat_id")) in self._no_voice:
            raise ApiError(400, "Bad Request: VOICE_MESSAGES_FORBIDDEN")

    async def _get_updates(self, p: JSON) -> list[JSON]:
        offset, limit, timeout = p.get("offset"), p.get("limit") or 100, p.get("timeout") or 0
        if offset is not None and offset < 0:  # Telegram: keep only the last -offset updates
            self._updates = self._updates[offset:]
        elif offset is not None:  # everything below offset is acknowledged: forget it
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):  # push_update() wakes us early
                await asyncio.wait_for(self._new_update.wait(), min(timeout, self.max_poll_wait))
        return self._updates[: max(1, min(int(limit), 100))]

    # -- canned results --------------------------------------------------------------
    def _result(self, method: str, model: MethodModel, p: JSON) -> Any:
        if method == "getMe":
            return {
                **self._bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False,
            }  # fmt: skip
        if method == "sendMessage":
            return self._new_message(p, text=_plain(p["text"], p))
        if method in _MEDIA:
            kind, extra = _MEDIA[method]
            content: JSON = {kind: self._media(kind, p[kind], extra)}
            if isinstance(p.get("caption"), str):
                content["caption"] = _plain(p["caption"], p)
            return self._new_message(p, **content)
        if method in ("editMessageText", "editMessageCaption", "editMessageReplyMarkup"):
            return self._edit(method, p)
        if method == "copyMessage":  # the real API answers with a bare MessageId
            return {"message_id": self._next_message_id(str(p["chat_id"]))}
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if method == "getChat":
            return {**self._chat(p["chat_id"]), "accent_color_id": 0, "max_reaction_count": 11}
        if model.__returning__ is bool:
            return True
        raise ApiError(500, f"Internal Server Error: no canned {method} result; use set_result()")

    def _edit(self, method: str, p: JSON) -> JSON | bool:
        if "inline_message_id" in p:
            return True
        key = (str(p["chat_id"]), p["message_id"])
        old = self._messages.get(key)
        msg = dict(old) if old else self._bot_message(p["chat_id"], p["message_id"])
        if method == "editMessageText":
            msg["text"] = _plain(p["text"], p)
        elif method == "editMessageCaption":
            msg["caption"] = _plain(p.get("caption") or "", p)
        msg.pop("reply_markup", None)  # an edit without reply_markup drops the keyboard
        if isinstance(p.get("reply_markup"), dict) and "inline_keyboard" in p["reply_markup"]:
            msg["reply_markup"] = p["reply_markup"]
        if old is not None and {**msg, "edit_date": 0} == {**old, "edit_date": 0}:
            raise ApiError(400, NOT_MODIFIED)  # real Telegram rejects no-op edits
        msg["edit_date"] = int(time.time())
        self._messages[key] = msg
        return msg

    def _new_message(self, p: JSON, **content: Any) -> JSON:
        chat = str(p["chat_id"])
        msg = {**self._bot_message(p["chat_id"], self._next_message_id(chat)), **content}
        markup = p.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:  # only inline ones echo
            msg["reply_markup"] = markup
        self._messages[(chat, msg["message_id"])] = msg
        return msg

    def _media(self, kind: str, source: Any, extra: JSON) -> JSON | list[JSON]:
        # A file_id sent again keeps its id; uploads get a fresh one the client can store.
        file_id = source if isinstance(source, str) else f"{kind.upper()}-{next(self._counter)}"
        self._file_kinds.setdefault(file_id, kind)
        size = source.size if isinstance(source, UploadedFile) else 1024
        unique_id = f"U{zlib.crc32(file_id.encode()):x}"
        base: JSON = {"file_id": file_id, "file_unique_id": unique_id, "file_size": size}
        if kind == "photo":
            return [{**base, "width": w, "height": w} for w in (90, 320)]  # small to large
        if kind == "document" and isinstance(source, UploadedFile):
            base.update(file_name=source.filename, mime_type=source.content_type)
        return {**base, **extra}

    def _next_message_id(self, chat: str) -> int:
        self._msg_ids[chat] = self._msg_ids.get(chat, 0) + 1
        return self._msg_ids[chat]

    def _bot_message(self, chat_id: int | str, message_id: int) -> JSON:
        return {"message_id": message_id, "date": int(time.time()), "chat": self._chat(chat_id),
                "from": self._bot_user()}  # fmt: skip

    def _bot_user(self) -> JSON:
        return {"id": self._bot_id, "is_bot": True, "first_name": "LessonBot",
                "username": "lessonbot_test_bot"}  # fmt: skip

    @staticmethod
    def _user(user_id: int, first_name: str, language_code: str) -> JSON:
        return {"id": user_id, "is_bot": False, "first_name": first_name,
                "language_code": language_code}  # fmt: skip

    @staticmethod
    def _chat(chat_id: int | str) -> JSON:
        if isinstance(chat_id, str):  # "@channelname": give it a stable fake numeric id
            return {"id": -1000000000000 - zlib.crc32(chat_id.encode()), "type": "channel",
                    "title": chat_id[1:], "username": chat_id[1:]}  # fmt: skip
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Test"}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": "Test group"}
