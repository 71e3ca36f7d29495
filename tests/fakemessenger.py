"""Loopback fake of the Messenger Platform (Meta's Graph Send API), in both directions.

The product's real HTTP client talks to it: sends and attachment uploads go to `fake.url` (put
it in MESSENGER_API_URL). The fake enforces the platform's rules and answers a violation with
Graph's own error shape, so a test fails where real Messenger would refuse; it records every
call. It also plays the learners: it posts webhooks to the bot signed as Meta signs them.
See tests/test_fakemessenger.py for usage.

The rules, as Meta documents them (each source checked 2026-12-03):
- Send API: `POST /{version}/me/messages` (or `/{page id}/messages`) with the Page access
  token as the `access_token` parameter; `recipient.id` a PSID, `messaging_type` RESPONSE,
  UPDATE or MESSAGE_TAG (with `tag`), and a `message` of `text` or `attachment`, or a
  `sender_action` instead of a message, never both. The answer is {"recipient_id",
  "message_id"}.
  developers.facebook.com/docs/messenger-platform/reference/send-api, checked 2026-12-03
- text: 1..2000 characters (UTF-8).
  developers.facebook.com/docs/messenger-platform/reference/send-api (message.text),
  checked 2026-12-03
- quick replies: 1..13 per message; a `text` one needs a title (20 character limit) and a
  payload (1000 character limit); they ride on a text or an attachment.
  developers.facebook.com/docs/messenger-platform/reference/buttons/quick-replies, checked
  2026-12-03
- button template: text 1..640 characters, 1..3 buttons; a postback button's title <= 20
  and payload <= 1000 characters; a web_url button needs an http(s) url.
  developers.facebook.com/docs/messenger-platform/send-messages/template/button and
  .../send-messages/buttons/postback, checked 2026-12-03
- attachments: `image`, `file`, `audio`, `video`, by `attachment_id` or `url`; uploads go to
  `/me/message_attachments` as multipart (`message` JSON and `filedata`), up to 25 MB, and
  an attachment id expires after 90 days. An `image` must be an image and an `audio` audio
  (its part's content type), as the type names.
  developers.facebook.com/docs/messenger-platform/reference/attachment-upload-api and
  .../send-messages/saving-assets, checked 2026-12-03
- the standard messaging window: RESPONSE and UPDATE only within 24 h of the person's last
  message; after that Graph answers code 10, subcode 2018278, "This message is sent outside of
  allowed window." Recurring notifications ended on 2026-02-10, so no message tag carries a
  lesson: the fake accepts MESSAGE_TAG only with a documented tag and records it, so a test
  can assert the bot never used one.
  developers.facebook.com/docs/messenger-platform/marketing-messages ("deprecated on
  February 10, 2026"), .../policy/policy-overview and .../error-codes, checked 2026-12-03
- rate: the Send API takes 300 calls per second per Page for text (10 for audio and video);
  the fake answers 613 past `send_rate` calls in any second of wall-clock time, and past
  `media_rate` audio or video messages.
  developers.facebook.com/docs/messenger-platform/overview/rate-limiting, checked 2026-12-03
- errors are {"error": {"message", "type": "OAuthException", "code", "error_subcode",
  "fbtrace_id"}}; the codes modelled: 1 and 2 (retry later; HTTP 500), 4 and 613 and 32
  (rate limits), 10/2018278 (window), 100 (invalid parameter; 100/2018001 "No matching user
  found"), 190 (token), 200/1545041 and 551/1545041 ("This person isn't available right
  now": blocked or gone). developers.facebook.com/docs/messenger-platform/error-codes,
  checked 2026-12-03. That table gives no HTTP statuses: the fake answers 400 for Graph's
  OAuthException errors, 403 for the permission error 200 and 500 for 1 and 2, as Graph
  does in practice; the client maps by code first, so the status matters only for 5xx/429.
- webhooks: `GET` handshake with hub.mode, hub.verify_token and hub.challenge; `POST` bodies
  {"object": "page", "entry": [{"id", "time", "messaging": [...]}]} signed with
  X-Hub-Signature-256 (HMAC-SHA256 of the raw body, app secret); timestamps in milliseconds;
  a quick reply arrives as a message with its title as text and `quick_reply.payload`, a
  postback button as `postback` {title, payload, mid}; the page's own messages come back as
  echoes (`is_echo`) to apps subscribed to message_echoes.
  developers.facebook.com/docs/messenger-platform/webhooks and .../webhooks/webhook-events/
  messages, messaging_postbacks, message-deliveries, message-reads, checked 2026-12-03
Stricter than Meta, on purpose: only JSON sends (or multipart with `filedata`), and only the
message kinds above.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from aiohttp import web

from tests.fakeplatform import JSON, Fault, GraphFake
from tests.fakeplatform import RawAnswer as _Raw

FaultTarget = Literal["send", "upload", "action", "any"]
WINDOW = timedelta(hours=24)  # the standard messaging window
ATTACHMENT_TTL = timedelta(days=90)
MAX_UPLOAD = 25 << 20
TEXT_CHARS, QUICK_REPLIES, TITLE_CHARS, PAYLOAD_CHARS = 2000, 13, 20, 1000
TEMPLATE_TEXT_CHARS, TEMPLATE_BUTTONS = 640, 3
MESSAGING_TYPES = frozenset({"RESPONSE", "UPDATE", "MESSAGE_TAG"})
TAGS = frozenset(
    {"ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "HUMAN_AGENT"}
)
ACTIONS = frozenset({"mark_seen", "typing_on", "typing_off"})
MEDIA = frozenset({"image", "file", "audio", "video"})
_VERSION = re.compile(r"v\d+\.\d+")
# (code, subcode) -> (HTTP status, message), after Meta's error-code table.
ERRORS: dict[tuple[int, int | None], tuple[int, str]] = {
    (1, None): (500, "An unknown error occurred"),
    (2, None): (500, "An unexpected error has occurred. Please retry your request later."),
    (4, None): (400, "Application request limit reached"),
    (10, 2018278): (400, "This message is sent outside of allowed window."),
    (32, None): (400, "Page request limit reached"),
    (100, None): (400, "Invalid parameter"),
    (100, 2018001): (400, "No matching user found"),
    (190, None): (400, "Invalid OAuth access token."),
    (200, 1545041): (403, "Message Not Sent: This person isn't available right now."),
    (551, 1545041): (400, "This person isn't available right now."),
    (613, None): (400, "Calls to this api have exceeded the rate limit."),
}


class GraphError(Exception):
    """A refusal, answered as Graph answers it."""

    def __init__(
        self, code: int, subcode: int | None = None, details: str = "", *,
        status: int | None = None, retry_after: int | None = None,
    ) -> None:  # fmt: skip
        known = ERRORS.get((code, subcode)) or ERRORS.get((code, None)) or (400, "Error")
        self.code, self.subcode, self.retry_after = code, subcode, retry_after
        self.status = status or known[0]
        title = known[1] if not details else f"{known[1]}: {details}"
        self.message = title if code == 190 else f"(#{code}) {title}"
        super().__init__(self.message)

    def error(self, trace: str) -> JSON:
        err: JSON = {"message": self.message, "type": "OAuthException", "code": self.code}
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        return {**err, "fbtrace_id": trace}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    time: datetime  # the fake's clock
    json: Any = None  # the send's body (multipart fields decoded into it)
    status: int = 200
    response: Any = None  # the JSON answered, or the raw text of an injected failure


@dataclass
class Sent:
    """A message the fake accepted and delivered."""

    mid: str
    to: str
    message: JSON
    messaging_type: str
    time: datetime
    tag: str | None = None

    @property
    def kind(self) -> str:
        """text, image, file, audio, video, or the template's type (button)."""
        attachment = self.message.get("attachment")
        if attachment is None:
            return "text"
        if attachment["type"] == "template":
            return str(attachment["payload"]["template_type"])
        return str(attachment["type"])

    @property
    def text(self) -> str:
        """What the learner reads: the text, or a button template's text."""
        if "text" in self.message:
            return str(self.message["text"])
        payload = self.message["attachment"].get("payload") or {}
        return str(payload.get("text", ""))

    @property
    def quick_replies(self) -> list[JSON]:
        return list(self.message.get("quick_replies") or [])

    @property
    def buttons(self) -> list[JSON]:
        attachment = self.message.get("attachment") or {}
        return list((attachment.get("payload") or {}).get("buttons") or [])


@dataclass
class Refused:
    body: Any
    to: Any  # the body's recipient id, whatever it was
    status: int
    error: JSON  # the Graph "error" object, or {"raw": text} for fail_next_raw()
    time: datetime


@dataclass
class Upload:
    attachment_id: str
    type: str
    mime_type: str
    filename: str | None
    data: bytes
    time: datetime
    reusable: bool


def _length(value: Any, path: str, high: int, low: int = 1) -> str:
    if not isinstance(value, str):
        raise GraphError(100, details=f"param {path} must be a string")
    if not low <= len(value) <= high:
        raise GraphError(100, details=f"param {path} must be {low} to {high} characters")
    return value


def _object(value: Any, path: str) -> JSON:
    if not isinstance(value, dict):
        raise GraphError(100, details=f"param {path} must be an object")
    return value


class FakeMessenger(GraphFake):
    def __init__(
        self, *, page_token: str = "test-page-token", page_id: str = "104729301820933",
        app_secret: str = "test-app-secret", webhook_url: str = "",
        start: datetime | None = None, echoes: bool = False, send_rate: int = 300,
        media_rate: int = 10,
    ) -> None:  # fmt: skip
        self._setup()
        self.page_token, self.page_id, self.app_secret = page_token, page_id, app_secret
        self.webhook_url = webhook_url  # the bot's, e.g. http://127.0.0.1:<port>/messenger
        self.echoes = echoes  # post each accepted message back as an echo (message_echoes)
        self.send_rate = send_rate  # Send API calls per second per Page
        self._recent: deque[float] = deque()  # monotonic times of the last second's sends
        self.media_rate = media_rate  # of them, audio or video messages per second per Page
        self._recent_media: deque[float] = deque()
        self.url = ""
        self.calls: list[Call] = []
        self.sent: list[Sent] = []
        self.rejected: list[Refused] = []
        self.uploads: list[Upload] = []
        self.actions: list[tuple[str, str]] = []  # (psid, sender_action) accepted
        self.received: list[JSON] = []  # the messaging events posted to the bot
        self._start_clock(start)
        self._last_wrote: dict[str, datetime] = {}  # psid -> when the person last wrote
        self._blocked: set[str] = set()
        self._last_delivery: bytes | None = None
        self._pending_echoes: list[JSON] = []
        self._echo_tasks: set[asyncio.Task[int]] = set()

    # -- lifecycle -------------------------------------------------------------------
    def _app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD + (1 << 20))
        app.router.add_route("*", "/{version}/{node}/{edge}", self._handle)
        return app

    async def _shutdown(self) -> None:
        await asyncio.gather(*self._echo_tasks, return_exceptions=True)
        await super()._shutdown()

    # -- the clock and the window ------------------------------------------------------
    def advance(self, *, days: float = 0, hours: float = 0, minutes: float = 0) -> None:
        self._clock += timedelta(days=days, hours=hours, minutes=minutes)

    def wrote_at(self, psid: str, when: datetime) -> None:
        """As if the person's last message had come at `when` (the window opens then)."""
        self._last_wrote[psid] = when

    def window_open(self, psid: str) -> bool:
        wrote = self._last_wrote.get(psid)
        return wrote is not None and self.now() - wrote <= WINDOW

    # -- behaviour control -----------------------------------------------------------
    def fail_next(
        self, code: int, subcode: int | None = None, *, times: int = 1, to: str | None = None,
        http_status: int | None = None, retry_after: int | None = None, on: FaultTarget = "send",
    ) -> None:  # fmt: skip
        """Refuse the next `times` valid sends (to `to`, if given) with Graph error `code`
        (and `subcode`), with Meta's HTTP status for it unless `http_status`; `retry_after`
        adds that header. `on`: sends, uploads, sender actions, or any."""
        error = GraphError(code, subcode, status=http_status, retry_after=retry_after)
        self._faults.append(Fault(on, times, to, error=error))

    def fail_next_raw(
        self, status: int, body: str, content_type: str = "text/html", *, times: int = 1,
        on: FaultTarget = "send",
    ) -> None:  # fmt: skip
        """Answer the next `times` requests with this raw body: an HTML 502 from a proxy."""
        self._faults.append(Fault(on, times, raw=_Raw(status, body, content_type)))

    def block(self, psid: str) -> None:
        """The person blocked the Page (or turned its messages off): 551 from now on."""
        self._blocked.add(psid)

    def unblock(self, psid: str) -> None:
        self._blocked.discard(psid)

    # -- inspection ------------------------------------------------------------------
    def messages_to(self, psid: str) -> list[Sent]:
        return [s for s in self.sent if s.to == psid]

    def texts_to(self, psid: str) -> list[str]:
        return [s.text for s in self.messages_to(psid)]

    # -- HTTP: the Send API side -------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        call = Call(request.method, request.path, dict(request.query), self.now())
        self.calls.append(call)
        edge = request.match_info["edge"]
        target: FaultTarget = "upload" if edge == "message_attachments" else "send"
        trace = f"A{next(self._counter):010d}fake"
        extra: dict[str, str] = {}
        raw: _Raw | None = None
        try:
            self._check_route(request)
            call.json, file = await self._read_body(request)
            if target == "upload":
                call.response = self._upload(call.json, file)
            elif "sender_action" in call.json:
                target = "action"
                call.response = self._action(call.json)
            else:
                call.response = self._send(call.json, file)
        except GraphError as e:
            call.status, call.response = e.status, {"error": e.error(trace)}
            if e.retry_after is not None:
                extra["Retry-After"] = str(e.retry_after)
        except _Raw as e:
            raw, call.status, call.response = e, e.status, e.body
        except (AttributeError, KeyError, TypeError) as e:  # a list where Graph wants an object
            bad = GraphError(100, details=f"malformed parameter: {e!r}")
            call.status, call.response = bad.status, {"error": bad.error(trace)}
        if target == "send" and (call.status != 200 or raw is not None):
            error = {"raw": raw.body} if raw else call.response["error"]
            recipient = call.json.get("recipient") if isinstance(call.json, dict) else None
            to = recipient.get("id") if isinstance(recipient, dict) else None
            self.rejected.append(Refused(call.json, to, call.status, error, self.now()))
        if raw is not None:
            return raw.response()
        if self._pending_echoes:
            echoes, self._pending_echoes = self._pending_echoes, []
            task = asyncio.get_running_loop().create_task(self._deliver(self._envelope(*echoes)))
            self._echo_tasks.add(task)
            task.add_done_callback(self._echo_tasks.discard)
        return web.json_response(call.response, status=call.status, headers=extra)

    def _check_route(self, request: web.Request) -> None:
        token = request.query.get("access_token") or request.headers.get(
            "Authorization", ""
        ).removeprefix("Bearer ")
        if token != self.page_token:
            raise GraphError(190)
        version, node = request.match_info["version"], request.match_info["node"]
        if not _VERSION.fullmatch(version):
            raise GraphError(100, details=f"unknown path components: /{version}")
        routed = request.match_info["edge"] in ("messages", "message_attachments")
        if node not in ("me", self.page_id) or not routed or request.method != "POST":
            raise GraphError(100, details=f"unsupported {request.method.lower()} request")

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[JSON, web.FileField | None]:
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            body: JSON = {}
            file = form.get("filedata")
            for name, value in form.items():
                if isinstance(value, str):
                    try:
                        body[name] = json.loads(value) if name != "messaging_type" else value
                    except ValueError:
                        raise GraphError(100, details=f"param {name} is not JSON") from None
            return body, file if isinstance(file, web.FileField) else None
        if request.content_type != "application/json":
            raise GraphError(100, details="the fake expects JSON or multipart bodies")
        try:
            body = await request.json()
        except ValueError:
            raise GraphError(100, details="the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise GraphError(100, details="the request body must be a JSON object")
        body.pop("access_token", None)
        return body, None

    def _recipient(self, body: JSON) -> str:
        psid = _object(body.get("recipient"), "recipient").get("id")
        if not isinstance(psid, str) or psid not in self._last_wrote:
            raise GraphError(100, 2018001)  # not a PSID of anyone who wrote to this Page
        return psid

    def _action(self, body: JSON) -> JSON:
        psid = self._recipient(body)
        if "message" in body:
            raise GraphError(100, details="cannot send both message and state at the same time")
        if body["sender_action"] not in ACTIONS:
            raise GraphError(100, details=f"param sender_action must be one of {sorted(ACTIONS)}")
        self._take_fault("action", psid)
        if psid in self._blocked:
            raise GraphError(551, 1545041)
        self.actions.append((psid, str(body["sender_action"])))
        return {"recipient_id": psid}

    def _send(self, body: JSON, file: web.FileField | None) -> JSON:
        psid = self._recipient(body)
        kind = body.get("messaging_type")
        if kind not in MESSAGING_TYPES:
            raise GraphError(100, details=f"param messaging_type must be one of "
                             f"{sorted(MESSAGING_TYPES)}")  # fmt: skip
        tag = body.get("tag")
        if kind == "MESSAGE_TAG" and tag not in TAGS:
            raise GraphError(100, details=f"param tag must be one of {sorted(TAGS)}")
        message = _object(body.get("message"), "message")
        if file is not None:  # upload and send: the file becomes the attachment
            upload = self._store_upload(message, file)
            payload = {"attachment_id": upload.attachment_id}
            message = {**message, "attachment": {"type": upload.type, "payload": payload}}
        self._check_message(message)
        self._take_fault("send", psid)
        self._keep_rate()
        if (message.get("attachment") or {}).get("type") in ("audio", "video"):
            self._keep_rate(self._recent_media, self.media_rate)
        if psid in self._blocked:
            raise GraphError(551, 1545041)
        if kind != "MESSAGE_TAG" and not self.window_open(psid):
            raise GraphError(10, 2018278)
        mid = self._mid("out")
        self.sent.append(Sent(mid, psid, message, str(kind), self.now(), tag))
        if self.echoes:
            self._pending_echoes.append(self._echo(psid, mid, message))
        return {"recipient_id": psid, "message_id": mid}

    def _keep_rate(self, recent: deque[float] | None = None, rate: int | None = None) -> None:
        recent = self._recent if recent is None else recent
        rate = self.send_rate if rate is None else rate
        now = time.monotonic()
        while recent and now - recent[0] >= 1.0:
            recent.popleft()
        if len(recent) >= rate:
            raise GraphError(613)
        recent.append(now)

    def _check_message(self, message: JSON) -> None:
        if ("text" in message) == ("attachment" in message):
            raise GraphError(100, details="param message must have exactly one of text or "
                             "attachment")  # fmt: skip
        if "text" in message:
            _length(message["text"], "message[text]", TEXT_CHARS)
        else:
            self._check_attachment(_object(message["attachment"], "message[attachment]"))
        if "quick_replies" in message:
            replies = message["quick_replies"]
            if not isinstance(replies, list) or not 1 <= len(replies) <= QUICK_REPLIES:
                raise GraphError(100, details=f"param message[quick_replies] must have 1 to "
                                 f"{QUICK_REPLIES} elements")  # fmt: skip
            for i, reply in enumerate(replies):
                reply = _object(reply, f"message[quick_replies][{i}]")
                if reply.get("content_type", "text") == "text":
                    _length(reply.get("title"), f"quick_replies[{i}][title]", TITLE_CHARS)
                    _length(reply.get("payload"), f"quick_replies[{i}][payload]", PAYLOAD_CHARS)
                elif reply["content_type"] not in ("user_phone_number", "user_email"):
                    raise GraphError(100, details=f"quick_replies[{i}][content_type] invalid")

    def _check_attachment(self, attachment: JSON) -> None:
        kind = attachment.get("type")
        payload = _object(attachment.get("payload"), "attachment[payload]")
        if kind == "template":
            if payload.get("template_type") != "button":
                raise GraphError(100, details="the fake models the button template only")
            _length(payload.get("text"), "payload[text]", TEMPLATE_TEXT_CHARS)
            buttons = payload.get("buttons")
            if not isinstance(buttons, list) or not 1 <= len(buttons) <= TEMPLATE_BUTTONS:
                raise GraphError(100, details=f"param payload[buttons] must have 1 to "
                                 f"{TEMPLATE_BUTTONS} elements")  # fmt: skip
            for i, button in enumerate(buttons):
                button = _object(button, f"buttons[{i}]")
                _length(button.get("title"), f"buttons[{i}][title]", TITLE_CHARS)
                if button.get("type") == "postback":
                    _length(button.get("payload"), f"buttons[{i}][payload]", PAYLOAD_CHARS)
                elif button.get("type") == "web_url":
                    if not re.match(r"https?://", str(button.get("url"))):
                        raise GraphError(100, details=f"buttons[{i}][url] must be http(s)")
                else:
                    raise GraphError(100, details=f"buttons[{i}][type] invalid")
            return
        if kind not in MEDIA:
            raise GraphError(100, details=f"param attachment[type] must be one of "
                             f"{sorted(MEDIA | {'template'})}")  # fmt: skip
        if ("attachment_id" in payload) == ("url" in payload):
            raise GraphError(100, details="payload needs exactly one of attachment_id or url")
        if "url" in payload:
            if not re.match(r"https?://", str(payload["url"])):
                raise GraphError(100, details="payload[url] must be an http(s) URL")
            return
        upload = next((u for u in self.uploads if u.attachment_id == payload["attachment_id"]),
                      None)  # fmt: skip
        if upload is None or self.now() - upload.time > ATTACHMENT_TTL:
            raise GraphError(100, details="attachment_id is not a valid (or live) attachment")
        if upload.type != kind:
            raise GraphError(100, details=f"attachment {upload.attachment_id} is a {upload.type}")

    def _store_upload(self, message: JSON, file: web.FileField) -> Upload:
        attachment = _object(message.get("attachment"), "message[attachment]")
        kind = attachment.get("type")
        if kind not in MEDIA:
            raise GraphError(100, details=f"param attachment[type] must be one of {sorted(MEDIA)}")
        payload = attachment.get("payload") or {}
        data = file.file.read()
        if not data or len(data) > MAX_UPLOAD:
            raise GraphError(100, details=f"attachments must be 1 to {MAX_UPLOAD} bytes")
        mime = file.content_type or "application/octet-stream"
        if kind == "image" and not mime.startswith("image/"):
            raise GraphError(100, details=f"an image attachment cannot be {mime}")
        if kind == "audio" and not mime.startswith("audio/"):
            raise GraphError(100, details=f"an audio attachment cannot be {mime}")
        attachment_id = str(1_000_000_000_000_000 + next(self._counter))
        reusable = bool(payload.get("is_reusable"))
        upload = Upload(attachment_id, str(kind), mime, file.filename, data, self.now(), reusable)
        self.uploads.append(upload)
        return upload

    def _upload(self, body: JSON, file: web.FileField | None) -> JSON:
        if file is None:
            raise GraphError(100, details="upload the file as multipart filedata")
        self._take_fault("upload", None)
        return {"attachment_id": self._store_upload(_object(body.get("message"), "message"),
                                                    file).attachment_id}  # fmt: skip

    def _mid(self, direction: str) -> str:
        return f"m_{direction}{next(self._counter):08d}.{self.page_id}"

    # -- webhooks: the people's side -------------------------------------------------
    def _ms(self) -> int:
        return int(self.now().timestamp() * 1000)

    def _envelope(self, *events: JSON) -> JSON:
        entry = {"id": self.page_id, "time": self._ms(), "messaging": list(events)}
        return {"object": "page", "entry": [entry]}

    def _echo(self, psid: str, mid: str, message: JSON) -> JSON:
        echo = {"is_echo": True, "mid": mid, **message}
        return {"sender": {"id": self.page_id}, "recipient": {"id": psid},
                "timestamp": self._ms(), "message": echo}  # fmt: skip

    def _signature_headers(self, body: bytes, signature: str) -> dict[str, str]:
        sha1 = hmac.new(self.app_secret.encode(), body, hashlib.sha1).hexdigest()
        return {"X-Hub-Signature-256": signature, "X-Hub-Signature": f"sha1={sha1}"}

    def _from_user(self, psid: str, **event: Any) -> JSON:
        if not psid.isdigit():
            raise AssertionError(f"{psid!r} is not a PSID (digits)")
        found = {"sender": {"id": psid}, "recipient": {"id": self.page_id},
                 "timestamp": self._ms(), **event}  # fmt: skip
        self._last_wrote[psid] = self.now()  # opens (or renews) the 24-hour window
        self.received.append(found)
        return found

    async def user_sends(self, psid: str, message: JSON) -> int:
        """The person sends `message` (text, attachments, ...); the fake adds its mid."""
        return await self._deliver(self._envelope(self._from_user(
            psid, message={"mid": self._mid("in"), **message})))  # fmt: skip

    async def user_sends_text(self, psid: str, text: str) -> int:
        return await self.user_sends(psid, {"text": text})

    async def user_sends_image(self, psid: str) -> int:
        url = f"https://scontent.xx.fbcdn.net/v/{next(self._counter)}.jpg"
        image = {"type": "image", "payload": {"url": url}}
        return await self.user_sends(psid, {"attachments": [image]})

    async def user_taps(self, psid: str, title_or_payload: str) -> int:
        """Tap a quick reply of the last message to `psid` (Messenger dismisses older ones)."""
        last = self.messages_to(psid)[-1:] or None
        if last is None or not last[0].quick_replies:
            raise AssertionError(f"the last message to {psid} has no quick replies")
        reply = self._choose(last[0].quick_replies, title_or_payload, last[0])
        message = {"text": reply["title"], "quick_reply": {"payload": reply["payload"]}}
        return await self.user_sends(psid, message)

    async def user_presses(self, psid: str, index: int, title_or_payload: str) -> int:
        """Press a postback button of a button template, messages_to(psid)[index]: template
        buttons stay in the thread, so old ones can be pressed."""
        sent = self.messages_to(psid)[index]
        button = self._choose([b for b in sent.buttons if b["type"] == "postback"],
                              title_or_payload, sent)  # fmt: skip
        postback = {"mid": self._mid("in"), "title": button["title"], "payload": button["payload"]}
        return await self._deliver(self._envelope(self._from_user(psid, postback=postback)))

    async def user_gets_started(self, psid: str, ref: str = "") -> int:
        """The person taps the Page's Get Started button (payload GET_STARTED), maybe after
        opening an m.me link with `ref`: a postback with its referral."""
        postback: JSON = {"mid": self._mid("in"), "title": "Get Started", "payload": "GET_STARTED"}
        if ref:
            postback["referral"] = {"ref": ref, "source": "SHORTLINK", "type": "OPEN_THREAD"}
        return await self._deliver(self._envelope(self._from_user(psid, postback=postback)))

    async def user_sends_payload(self, psid: str, payload: str, *, title: str = "Next") -> int:
        """A quick-reply message with any payload (someone crafting requests)."""
        message = {"text": title, "quick_reply": {"payload": payload}}
        return await self.user_sends(psid, message)

    @staticmethod
    def _choose(options: list[JSON], choice: str, sent: Sent) -> JSON:
        match = next((o for o in options if o.get("payload") == choice), None) or next(
            (o for o in options if o.get("title") == choice), None
        )
        if match is None:
            titles = [o.get("title") for o in options]
            raise AssertionError(f"{choice!r} is not on message {sent.mid}: {titles}")
        return match

    async def report_delivered(self, psid: str) -> int:
        """A message_deliveries event for every message sent to `psid`."""
        mids = [s.mid for s in self.messages_to(psid)]
        delivery = {"mids": mids, "watermark": self._ms()}
        event = {"sender": {"id": psid}, "recipient": {"id": self.page_id}, "delivery": delivery}
        return await self._deliver(self._envelope(event))

    async def report_read(self, psid: str) -> int:
        event = {"sender": {"id": psid}, "recipient": {"id": self.page_id},
                 "timestamp": self._ms(), "read": {"watermark": self._ms()}}  # fmt: skip
        return await self._deliver(self._envelope(event))
