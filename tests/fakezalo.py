"""Loopback fake of the Zalo Official Account API v3 and its OAuth server, in both directions.

The product's real HTTP client talks to it: messages, image uploads and token refreshes go to
`fake.url` (put it in ZALO_API_URL and ZALO_OAUTH_URL). The fake enforces the platform's rules
and answers a violation the way Zalo does, HTTP 200 with {"error": <negative int>, "message"},
so a test fails where real Zalo would refuse; it records every call. It also plays the
learners: it posts webhook events to the bot, signed as Zalo signs them. See
tests/test_fakezalo.py for usage.

The rules, and where they come from (all checked 2026-12-03). developers.zalo.me itself is not
in the reference corpus available here, so each rule is taken from implementations and guides
that quote it, named below; the lead should re-check the marked (*) ones against the official
pages before launch.
- Webhook signature: `X-ZEvent-Signature: mac=<sha256 hex of app_id + raw body + timestamp +
  OA secret key>`, the app id and the timestamp (epoch milliseconds, a string) being the
  body's own fields: github.com/chatwoot/chatwoot app/jobs/webhooks/zalo_events_job.rb
  (validate_signature), and hainh.me/zalo-api-php-webhook-callback-official-account.html
  ("the OA secret key, not the app secret"). Events (user_send_text with sender.id,
  recipient.id = the OA, message.text and message.msg_id; user_send_image with
  message.attachments; user_received_message / user_seen_message): the same chatwoot job and
  app/services/zalo/incoming_message_service.rb. follow / unfollow with follower.id (*).
- A tapped `oa.query.hide` / `oa.query.show` button comes back as the user's `user_send_text`
  whose text is the button's payload, "hide" keeping it out of the chat:
  app.unpkg.com/@warriorteam/redai-zalo-sdk@1.32.17/files/docs/BUTTON_TYPES_GUIDE.md.
- Consultation ("cs") messages, POST /v3.0/oa/message/cs with the `access_token` header, body
  {"recipient": {"user_id"}, "message": {"text", "attachment"}}: free within 48 h of the
  user's last interaction (redai-zalo-sdk docs/CONSULTATION_SERVICE.md), at most 8 in that
  time (the issue and research/channels.md (*): the figure is not in the sources above). Text
  at most 2000 characters, longer refused with -210 (a pilot's note in a Zalo integration,
  "Zalo TỪ CHỐI (-210) text > 2000"). Buttons: message.attachment {"type": "template",
  "payload": {"buttons": [...]}} beside the text (developers.esms.vn/en/esms-api/send-sms-api/
  send-zalo-message-consulting-button), of type oa.open.url / oa.query.show / oa.query.hide /
  oa.open.sms / oa.open.phone, title at most 100 characters, query payload at most 1000
  (BUTTON_TYPES_GUIDE above); at most 5 of them (*: integrations cap at 5, no official figure
  found). An image is a `media` template naming an uploaded attachment_id. The answer:
  {"error": 0, "message": "Success", "data": {"message_id", "user_id", "quota"}}.
- Proactive ("promotion") messages, POST /v3.0/oa/message/promotion: only a verified OA, a
  `promotion` template of banner / header (at most 100) / text elements with buttons
  (redai-zalo-sdk docs/PROMOTION_API_V3_MIGRATION.md and dist/services/promotion.service.js);
  counted against the OA's monthly allowance, -211 once it is used up (*). The text element's
  limit is taken as 2000, like cs (*).
- A user's profile: GET /v3.0/oa/user/detail?data={"user_id": ...} gives data.display_name
  (chatwoot app/services/zalo/incoming_message_service.rb).
- Images: POST /v2.0/oa/upload/image, multipart `file`, jpg or png of at most 1 MB, answered
  with data.attachment_id (*).
- Tokens: the access token lives about 25 h (expires_in "90000") and is refused with -216 (or
  HTTP 401); POST https://oauth.zaloapp.com/v4/oa/access_token, header `secret_key` = the app
  secret, form app_id, grant_type=refresh_token, refresh_token, gives a new pair; a refresh
  token is single-use (about 3 months) and a spent one answers -14020: the Zalo OA
  integration reference quoting developers.zalo.me/community/detail/d546eda3d1e638b861f7, and
  the many callers of that endpoint (e.g. the Laravel and Next.js ones found by the search).
  A wrong secret key answers -14014 here (*: the code is not documented in those sources).
- Error codes (developers.zalo.me/docs/api/official-account-api/phu-luc/ma-loi-post-3234, as
  quoted by khoicodedao/Poto_platform lib/constants/zalo.ts and docs/FIX_ERROR_230.md): -213
  the user does not follow the OA, -230 the user has not interacted with the OA within the
  allowed time, -216 invalid access token, -224 not in the OA's package (the reference above),
  -201 invalid parameter, -210 over a limit, -211 out of quota, -32 the app's request rate (*).
  Which code Zalo sends for the 9th consultation message is not documented in the sources:
  the fake sends -211.
Stricter than Zalo, on purpose: user ids must be digits, and only the message types above are
modelled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from aiohttp import web

from tests.fakeplatform import JSON, Call, FakePlatform, Fault
from tests.fakeplatform import RawAnswer as _Raw

FaultTarget = Literal["cs", "promotion", "upload", "token", "any"]
WINDOW = timedelta(hours=48)
WINDOW_REPLIES = 8
TOKEN_LIFETIME = timedelta(seconds=90000)
TEXT_CHARS = 2000
BUTTONS = 5
BUTTON_TITLE = 100
BUTTON_PAYLOAD = 1000
HEADER_CHARS = 100
IMAGE_BYTES = 1 << 20
BUTTON_TYPES = frozenset({"oa.open.url", "oa.query.show", "oa.query.hide", "oa.open.sms",
                          "oa.open.phone"})  # fmt: skip
QUERY_TYPES = frozenset({"oa.query.show", "oa.query.hide"})
# Zalo error code -> its message, after the platform's error table.
ERRORS: dict[int, str] = {
    -32: "Exceeded the request rate limit of the application",
    -201: "Parameter is invalid",
    -210: "Parameter exceeds the limit",
    -211: "Out of quota",
    -213: "User has not followed the OA",
    -216: "Access token is invalid",
    -224: "The OA's package does not include this feature",
    -230: "User has not interacted with the OA within the allowed time",
    -14020: "Invalid refresh token",
    -14014: "Invalid app secret key",
}


class ZaloError(Exception):
    """A refusal, answered as Zalo answers it: HTTP 200 and a negative error code."""

    def __init__(self, code: int, detail: str = "", *, status: int = 200) -> None:
        self.code, self.status = code, status
        self.message = ERRORS.get(code, "Error") + (f": {detail}" if detail else "")
        super().__init__(self.message)

    def body(self, oauth: bool) -> JSON:
        if oauth:  # the OAuth server names its errors differently
            return {"error": self.code, "error_name": ERRORS.get(self.code, "Error"),
                    "error_description": self.message}  # fmt: skip
        return {"error": self.code, "message": self.message}


@dataclass
class Sent:
    """A message the fake accepted."""

    message_id: str
    to: str
    kind: Literal["cs", "promotion"]
    message: JSON
    time: datetime

    @property
    def text(self) -> str:
        return visible_text(self.kind, self.message)

    def buttons(self) -> list[JSON]:
        payload = (self.message.get("attachment") or {}).get("payload") or {}
        return list(payload.get("buttons") or [])

    @property
    def image(self) -> str | None:
        """The attachment id of the picture this message shows, if any."""
        payload = (self.message.get("attachment") or {}).get("payload") or {}
        for element in payload.get("elements") or ():
            if element.get("media_type") == "image" or element.get("type") == "banner":
                return str(element.get("attachment_id"))
        return None


@dataclass
class Refused:
    path: str
    to: Any
    body: Any
    error: JSON  # the answer, or {"raw": text} for fail_next_raw()
    time: datetime


@dataclass
class Upload:
    attachment_id: str
    filename: str | None
    mime_type: str
    data: bytes
    time: datetime


@dataclass
class _User:
    wrote_at: datetime | None = None
    replies: int = 0  # consultation messages since they last wrote
    following: bool = True
    blocked: bool = False


def visible_text(kind: str, message: JSON) -> str:
    """What the user reads: the text, or a promotion's header and text elements."""
    if kind == "cs":
        return str(message.get("text") or "")
    payload = (message.get("attachment") or {}).get("payload") or {}
    parts = [str(e.get("content")) for e in payload.get("elements") or ()
             if e.get("type") in ("header", "text")]  # fmt: skip
    return "\n".join(parts)


def signature(app_id: str, body: bytes, timestamp: str, oa_secret: str) -> str:
    """The X-ZEvent-Signature Zalo sends with `body`."""
    mac = hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret.encode())
    return "mac=" + mac.hexdigest()


def _text(value: Any, what: str, high: int, *, low: int = 1) -> str:
    if value is None and low:
        raise ZaloError(-201, f"{what} is required")
    if not isinstance(value, str):
        raise ZaloError(-201, f"{what} must be a string")
    if len(value) < low:
        raise ZaloError(-201, f"{what} is empty")
    if len(value) > high:
        raise ZaloError(-210, f"{what} is longer than {high} characters")
    return value


@dataclass
class FakeZalo(FakePlatform):
    app_id: str = "1823865030574396868"
    oa_id: str = "1646843870823903717"
    oa_secret: str = "test-oa-secret"
    app_secret: str = "test-app-secret"
    verified: bool = True  # a verified OA may send proactive messages
    proactive_monthly: int = 1000  # the OA's allowance of proactive messages a month
    webhook_url: str = ""  # the bot's, e.g. http://127.0.0.1:<port>/zalo
    start: datetime | None = None
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    refreshes: list[str] = field(default_factory=list)  # the refresh tokens spent, in order
    names: dict[str, str] = field(default_factory=dict)  # user id -> display name on Zalo

    def __post_init__(self) -> None:
        self._setup()
        self._start_clock(self.start)
        self._users: dict[str, _User] = {}
        self._access: dict[str, datetime] = {}  # live access token -> when it expires
        self._refresh: set[str] = set()  # refresh tokens not spent yet
        self._last_delivery: bytes | None = None
        self.access_token, self.refresh_token = self.issue_pair()

    # -- lifecycle -------------------------------------------------------------------
    def _app(self) -> web.Application:
        app = web.Application(client_max_size=8 << 20)
        app.router.add_post("/v3.0/oa/message/{kind}", self._message)
        app.router.add_post("/v2.0/oa/upload/image", self._upload)
        app.router.add_get("/v3.0/oa/user/detail", self._user_detail)
        app.router.add_post("/v4/oa/access_token", self._token)
        return app

    # -- the clock, the window, tokens ------------------------------------------------
    def advance(self, **delta: float) -> None:
        """Move time on (days=, hours=, ...): windows close and access tokens expire."""
        self._clock += timedelta(**delta)

    def _user(self, user_id: str) -> _User:
        return self._users.setdefault(user_id, _User())

    def wrote_at(self, user_id: str, when: datetime) -> None:
        """As if the user's last message had come at `when`: their window opens then."""
        user = self._user(user_id)
        user.wrote_at, user.replies = when, 0

    def window_left(self, user_id: str) -> int:
        """Consultation messages the user may still get now (0: the window is closed)."""
        user = self._user(user_id)
        if user.wrote_at is None or self.now() - user.wrote_at > WINDOW:
            return 0
        return max(0, WINDOW_REPLIES - user.replies)

    def issue_pair(self) -> tuple[str, str]:
        """A fresh access and refresh token, as an OA admin's authorization gives them."""
        n = next(self._counter)
        access, refresh = f"access-{n}-{self.oa_id[-4:]}", f"refresh-{n}-{self.app_id[-4:]}"
        self._access[access] = self.now() + TOKEN_LIFETIME
        self._refresh.add(refresh)
        return access, refresh

    def expire_tokens(self) -> None:
        """Every access token expires now (the refresh tokens stay good)."""
        self._access = {t: self.now() for t in self._access}

    def proactive_used(self) -> int:
        month = (self.now().year, self.now().month)
        return sum(s.kind == "promotion" and (s.time.year, s.time.month) == month
                   for s in self.sent)  # fmt: skip

    # -- behaviour control -----------------------------------------------------------
    def fail_next(self, code: int, *, times: int = 1, on: FaultTarget = "cs",
                  http_status: int = 200, after: int = 0) -> None:  # fmt: skip
        """Refuse the next `times` valid calls to `on` (once `after` more went through)
        with Zalo error `code` (-32 rate limit, -213 a user who blocked the OA, ...)."""
        error = ZaloError(code, status=http_status)
        self._add_fault(Fault(on, times, error=error, after=after))

    def fail_next_raw(self, status: int, body: str, content_type: str = "text/html", *,
                      times: int = 1, on: FaultTarget = "cs") -> None:  # fmt: skip
        """Answer the next `times` calls with this raw body: a proxy's HTML 502 page."""
        self._add_fault(Fault(on, times, raw=_Raw(status, body, content_type)))

    def block(self, user_id: str) -> None:
        """The user blocked the OA: messages to them are refused with -213."""
        self._user(user_id).blocked = True

    def unblock(self, user_id: str) -> None:
        self._user(user_id).blocked = False

    def _add_fault(self, fault: Fault[ZaloError]) -> None:
        if fault.times > 0:  # one for no call never fires (nor lets `after` calls through)
            self._faults.append(fault)

    # -- inspection ------------------------------------------------------------------
    def messages_to(self, user_id: str) -> list[Sent]:
        return [s for s in self.sent if s.to == user_id]

    # -- the API ---------------------------------------------------------------------
    def _record(self, request: web.Request, body: Any, form: dict[str, str] | None) -> Call:
        call = Call(request.method, request.path, dict(request.headers), self.now(), body, form)
        self.calls.append(call)
        return call

    def _answer(self, call: Call, answer: JSON, status: int = 200) -> web.Response:
        call.status, call.response = status, answer
        return web.json_response(answer, status=status)

    def _answer_raw(self, call: Call, raw: _Raw) -> web.Response:
        call.status, call.response = raw.status, raw.body
        return raw.response()

    def _check_token(self, request: web.Request) -> None:
        token = request.headers.get("access_token", "")
        expires = self._access.get(token)
        if expires is None or self.now() >= expires:
            raise ZaloError(-216)

    async def _message(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        try:
            body = await request.json()
        except ValueError:
            body = None
        call = self._record(request, body, None)
        to = (body or {}).get("recipient", {}).get("user_id") if isinstance(body, dict) else None
        try:
            if kind not in ("cs", "promotion"):
                raise ZaloError(-201, f"unknown message type {kind}")
            self._check_token(request)
            answer = self._send(kind, body)
        except ZaloError as exc:
            self.refused.append(Refused(request.path, to, body, exc.body(False), self.now()))
            return self._answer(call, exc.body(False), exc.status)
        except _Raw as raw:
            self.refused.append(Refused(request.path, to, body, {"raw": raw.body}, self.now()))
            return self._answer_raw(call, raw)
        return self._answer(call, answer)

    def _send(self, kind: str, body: Any) -> JSON:
        if not isinstance(body, dict) or not isinstance(body.get("recipient"), dict):
            raise ZaloError(-201, "recipient is required")
        to = body["recipient"].get("user_id")
        if not isinstance(to, str) or not to.isdigit():
            raise ZaloError(-201, "recipient.user_id must be a user id")
        message = body.get("message")
        if not isinstance(message, dict):
            raise ZaloError(-201, "message is required")
        if kind == "cs":
            self._check_cs(message)
        else:
            self._check_promotion(message)
        user = self._user(to)
        if user.blocked or not user.following:
            raise ZaloError(-213)
        if kind == "cs":
            if user.wrote_at is None or self.now() - user.wrote_at > WINDOW:
                raise ZaloError(-230, "more than 48 hours since the user's last message")
            if user.replies >= WINDOW_REPLIES:
                raise ZaloError(-211, f"{WINDOW_REPLIES} consultation messages in 48 hours")
        else:
            if not self.verified:
                raise ZaloError(-224, "proactive messages need a verified OA")
            if self.proactive_used() >= self.proactive_monthly:
                raise ZaloError(-211, "the monthly allowance of proactive messages is used")
        self._take_fault("cs" if kind == "cs" else "promotion")
        message_id = hashlib.sha1(f"{next(self._counter)}:{to}".encode()).hexdigest()[:32]
        self.sent.append(Sent(message_id, to, kind, message, self.now()))  # type: ignore[arg-type]
        data: JSON = {"message_id": message_id, "user_id": to}
        if kind == "cs":
            user.replies += 1
            data["quota"] = {"quota_type": "reply", "remain": str(WINDOW_REPLIES - user.replies),
                             "total": str(WINDOW_REPLIES)}  # fmt: skip
        return {"data": data, "error": 0, "message": "Success"}

    def _check_buttons(self, buttons: Any) -> None:
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= BUTTONS:
            raise ZaloError(-210, f"buttons must be 1 to {BUTTONS}")
        for b in buttons:
            if not isinstance(b, dict) or b.get("type") not in BUTTON_TYPES:
                raise ZaloError(-201, "button type is invalid")
            _text(b.get("title"), "button title", BUTTON_TITLE)
            if b["type"] in QUERY_TYPES:
                _text(b.get("payload"), "button payload", BUTTON_PAYLOAD)
            elif not isinstance(b.get("payload"), dict):
                raise ZaloError(-201, "button payload must be an object")

    def _check_image(self, attachment_id: Any) -> None:
        if not any(u.attachment_id == attachment_id for u in self.uploads):
            raise ZaloError(-201, "attachment_id is not an uploaded image")

    def _check_cs(self, message: JSON) -> None:
        attachment = message.get("attachment")
        if attachment is None:
            _text(message.get("text"), "message.text", TEXT_CHARS)
            return
        if message.get("text") is not None:
            _text(message["text"], "message.text", TEXT_CHARS)
        if not isinstance(attachment, dict) or attachment.get("type") != "template":
            raise ZaloError(-201, "attachment.type must be template")
        payload = attachment.get("payload")
        if not isinstance(payload, dict):
            raise ZaloError(-201, "attachment.payload is required")
        if payload.get("template_type") == "media":
            elements = payload.get("elements")
            if not isinstance(elements, list) or len(elements) != 1:
                raise ZaloError(-201, "a media template has one element")
            if elements[0].get("media_type") != "image":
                raise ZaloError(-201, "media_type must be image")
            self._check_image(elements[0].get("attachment_id"))
            return
        if message.get("text") is None:
            raise ZaloError(-201, "message.text is required with buttons")
        self._check_buttons(payload.get("buttons"))

    def _check_promotion(self, message: JSON) -> None:
        attachment = message.get("attachment")
        payload = attachment.get("payload") if isinstance(attachment, dict) else None
        if not isinstance(payload, dict) or payload.get("template_type") != "promotion":
            raise ZaloError(-201, "a promotion message is a promotion template")
        elements = payload.get("elements")
        if not isinstance(elements, list) or not elements:
            raise ZaloError(-201, "elements are required")
        for e in elements:
            kind = e.get("type") if isinstance(e, dict) else None
            if kind == "banner":
                self._check_image(e.get("attachment_id"))
            elif kind == "header":
                _text(e.get("content"), "header", HEADER_CHARS)
            elif kind == "text":
                _text(e.get("content"), "text", TEXT_CHARS)
            else:
                raise ZaloError(-201, f"element type {kind!r} is invalid")
        if payload.get("buttons") is not None:
            self._check_buttons(payload["buttons"])

    async def _user_detail(self, request: web.Request) -> web.Response:
        call = self._record(request, None, dict(request.query))
        try:
            self._check_token(request)
            try:
                user_id = str(json.loads(request.query.get("data", "")).get("user_id"))
            except (ValueError, AttributeError):
                raise ZaloError(-201, 'data must be {"user_id": ...}') from None
            if user_id not in self._users:
                raise ZaloError(-213)  # never interacted with the OA
            user = self._users[user_id]
        except ZaloError as exc:
            return self._answer(call, exc.body(False), exc.status)
        name = self.names.get(user_id, "Người dùng Zalo")
        data = {"user_id": user_id, "display_name": name, "user_is_follower": user.following}
        return self._answer(call, {"data": data, "error": 0, "message": "Success"})

    async def _upload(self, request: web.Request) -> web.Response:
        call = self._record(request, None, None)
        try:
            self._check_token(request)
            if not request.content_type.startswith("multipart/"):
                raise ZaloError(-201, "upload the image as multipart/form-data")
            form = await request.post()
            file = form.get("file")
            if not isinstance(file, web.FileField):
                raise ZaloError(-201, "file is required")
            data = file.file.read()
            mime = file.content_type
            if mime not in ("image/jpeg", "image/png"):
                raise ZaloError(-201, "only jpg and png images")
            if not data or len(data) > IMAGE_BYTES:
                raise ZaloError(-210, "images are at most 1 MB")
            self._take_fault("upload")
        except ZaloError as exc:
            return self._answer(call, exc.body(False), exc.status)
        except _Raw as raw:
            return self._answer_raw(call, raw)
        attachment_id = hashlib.sha1(f"img:{next(self._counter)}".encode()).hexdigest()
        self.uploads.append(Upload(attachment_id, file.filename, mime, data, self.now()))
        return self._answer(call, {"data": {"attachment_id": attachment_id}, "error": 0,
                                   "message": "Success"})  # fmt: skip

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        call = self._record(request, None, form)
        try:
            if request.headers.get("secret_key") != self.app_secret:
                raise ZaloError(-14014)
            if form.get("app_id") != self.app_id or form.get("grant_type") != "refresh_token":
                raise ZaloError(-201, "app_id and grant_type=refresh_token are required")
            token = form.get("refresh_token", "")
            if token not in self._refresh:
                raise ZaloError(-14020, "the refresh token was used already, or is unknown")
            self._take_fault("token")
        except ZaloError as exc:
            return self._answer(call, exc.body(True), exc.status)
        except _Raw as raw:
            return self._answer_raw(call, raw)
        self._refresh.discard(token)  # single-use
        self.refreshes.append(token)
        self.access_token, self.refresh_token = self.issue_pair()
        lifetime = str(int(TOKEN_LIFETIME.total_seconds()))
        return self._answer(call, {"access_token": self.access_token,
                                   "refresh_token": self.refresh_token,
                                   "expires_in": lifetime})  # fmt: skip

    # -- webhooks: the users' side ---------------------------------------------------
    def sign(self, body: bytes) -> str:
        """The signature Zalo would send with `body` (its app_id and timestamp fields)."""
        fields = json.loads(body)
        return signature(str(fields.get("app_id", "")), body, str(fields.get("timestamp", "")),
                         self.oa_secret)  # fmt: skip

    async def post_raw(self, body: bytes, sig: str | None = None) -> int:
        """POST any body to the bot: `sig` None sends no signature, "bad" a forged one,
        anything else as given. Returns the bot's HTTP status."""
        headers = {"Content-Type": "application/json"}
        if sig == "bad":
            sig = "mac=" + hashlib.sha256(b"forged" + body).hexdigest()
        if sig is not None:
            headers["X-ZEvent-Signature"] = sig
        return await self._post_webhook(body, headers)

    async def deliver(self, event: JSON) -> int:
        """Post `event` signed, as Zalo does; returns the bot's status."""
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        self._last_delivery = body
        return await self.post_raw(body, self.sign(body))

    async def redeliver_last(self) -> int:
        assert self._last_delivery is not None, "nothing was delivered yet"
        return await self.post_raw(self._last_delivery, self.sign(self._last_delivery))

    def _event(self, name: str, **fields: Any) -> JSON:
        stamp = str(int(self.now().timestamp() * 1000))
        return {"app_id": self.app_id, "event_name": name, "timestamp": stamp, **fields}

    def _from_user(self, user_id: str, name: str, message: JSON) -> JSON:
        if not user_id.isdigit():
            raise AssertionError(f"{user_id!r} is not a Zalo user id (digits)")
        # A second passes between two messages of a user: their timestamps differ, as they do
        # on Zalo, and the window each one opens is its own.
        self._clock += timedelta(seconds=1)
        self.wrote_at(user_id, self.now())  # the user wrote: their 48 h and 8 replies renew
        msg_id = hashlib.sha1(f"in:{next(self._counter)}".encode()).hexdigest()[:20]
        return self._event(name, sender={"id": user_id}, recipient={"id": self.oa_id},
                           message={"msg_id": msg_id, **message},
                           user_id_by_app=str(9_000_000_000 + int(user_id[-6:])))  # fmt: skip

    async def user_sends_text(self, user_id: str, text: str) -> int:
        return await self.deliver(self._from_user(user_id, "user_send_text", {"text": text}))

    async def user_sends_image(self, user_id: str) -> int:
        image = {
            "type": "image",
            "payload": {
                "url": "https://photo.zalo.me/x.jpg",
                "thumbnail": "https://photo.zalo.me/t.jpg",
            },
        }
        return await self.deliver(self._from_user(user_id, "user_send_image",
                                                  {"attachments": [image]}))  # fmt: skip

    async def user_taps(self, user_id: str, title_or_payload: str, *, index: int = -1) -> int:
        """Tap a query button of the message messages_to(user_id)[index] (the last by
        default): Zalo sends the button's payload as the user's text."""
        sent = self.messages_to(user_id)[index]
        buttons = [b for b in sent.buttons() if b["type"] in QUERY_TYPES]
        found = next((b for b in buttons if b["payload"] == title_or_payload), None) or next(
            (b for b in buttons if b["title"] == title_or_payload), None)  # fmt: skip
        if found is None:
            titles = [b["title"] for b in buttons]
            raise AssertionError(f"{title_or_payload!r} is not on that message: {titles}")
        return await self.user_sends_text(user_id, found["payload"])

    async def follows(self, user_id: str) -> int:
        self._user(user_id).following = True
        return await self.deliver(self._event("follow", oa_id=self.oa_id, source="oa_profile",
                                              follower={"id": user_id}))  # fmt: skip

    async def unfollows(self, user_id: str) -> int:
        self._user(user_id).following = False
        return await self.deliver(self._event("unfollow", oa_id=self.oa_id, source="oa_profile",
                                              follower={"id": user_id}))  # fmt: skip

    async def user_saw(self, user_id: str, seen: bool = True) -> int:
        """A receipt for every message sent to the user: received, or seen."""
        ids = [s.message_id for s in self.messages_to(user_id)]
        name = "user_seen_message" if seen else "user_received_message"
        return await self.deliver(self._event(name, sender={"id": self.oa_id},
                                              recipient={"id": user_id},
                                              message={"msg_ids": ids}))  # fmt: skip
