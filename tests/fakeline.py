"""Loopback fake of the LINE Messaging API, in both directions.

The product's real client (line-bot-sdk's AsyncMessagingApi) talks to it: put `fake.url` in
LINE_API_URL. The fake enforces the platform's rules, answers a violation with LINE's own
error shape and HTTP status, and records every call. It also plays the learners: it posts
webhooks to the bot, signed as LINE signs them. See tests/test_fakeline.py for usage.

The rules, as LINE documents them (each checked 2026-12-03):
- Errors are {"message": ..., "details": [{"message", "property"}]} with the statuses of
  https://developers.line.biz/en/reference/messaging-api/#status-codes and the messages of
  https://developers.line.biz/en/reference/messaging-api/#error-messages: 400 "The request
  body has N error(s)", "Invalid reply token", "Failed to send messages" (no such user);
  401 "Authentication failed ..."; 409 for a retry key already accepted; 429 "The API rate
  limit has been exceeded. Try again later." and "You have reached your monthly limit.".
  Every answer carries `x-line-request-id`.
- At most 5 message objects per reply, push or multicast; multicast to at most 500 user ids
  (https://developers.line.biz/en/reference/messaging-api/#send-reply-message,
  #send-push-message, #send-multicast-message).
- A text message is 1..5000 characters; an image needs HTTPS originalContentUrl and
  previewImageUrl of at most 2000 characters
  (https://developers.line.biz/en/reference/messaging-api/#text-message, #image-message).
- Quick reply: 1..13 items of type "action"; an action's label is 1..20 characters; a postback
  action's data is 1..300 characters, its displayText at most 300; a message action's text
  at most 300 (https://developers.line.biz/en/reference/messaging-api/#quick-reply,
  #postback-action, #message-action). The quick reply shows on the last message of a call.
- The reply token is single-use and valid for a minute after the webhook
  (https://developers.line.biz/en/reference/messaging-api/#send-reply-message).
- X-Line-Retry-Key (a hexadecimal UUID) is accepted on push, multicast, narrowcast and
  broadcast, and refused with 400 on any other endpoint. A key already accepted answers 409
  with `x-line-accepted-request-id`, and nothing is sent again; a key is remembered for 24 hours
  (https://developers.line.biz/en/docs/messaging-api/retrying-api-request/).
- A request answered 429 is not processed (https://developers.line.biz/en/docs/messaging-api/
  handling-http-429-errors/). Pushes and multicasts count one message per request and
  recipient against the monthly quota, whatever the number of message objects; recipients who
  blocked the account (or don't exist) are not counted, and replies are free
  (https://developers.line.biz/en/tips/2026/05/28/how-to-count-messages/). The quota is read with
  GET /v2/bot/message/quota ({"type": "none"} or {"type": "limited", "value": n}) and
  GET /v2/bot/message/quota/consumption ({"totalUsage": n})
  (https://developers.line.biz/en/reference/messaging-api/#get-quota).
- A push to a user who blocked the account is accepted (200) and not delivered: "If an API
  request is accepted ... it won't be possible to retry the same request, even if it couldn't
  be delivered correctly because the user has blocked the LINE Official Account"
  (retrying-api-request, above). The account learns of the block by the unfollow event.
- GET /v2/bot/profile/{userId}: displayName, userId, language (optional); 404 "Not found"
  for a user who is not a friend or blocked the account (#get-profile).
- Webhooks: {"destination", "events"}; each event has type, mode, timestamp (ms), source
  {"type": "user", "userId"}, webhookEventId (a ULID), deliveryContext {"isRedelivery"}, and
  replyToken for message, follow and postback events (https://developers.line.biz/en/
  reference/messaging-api/#webhook-event-objects). A redelivery is the same event again with
  isRedelivery true. X-Line-Signature is base64(HMAC-SHA256(channel secret, raw body))
  (https://developers.line.biz/en/docs/messaging-api/verify-webhook-signature/).
Stricter than LINE, on purpose: only text and image messages and postback and message actions
are modelled, and the token only counts in the Authorization header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aiohttp import web

from tests.fakeplatform import JSON, Fault, RawAnswer, ServedFake

Kind = Literal["reply", "push", "multicast"]
FaultKind = Literal["rate", "server", "html", "lost"]
REPLY_TOKEN_LIFE = timedelta(minutes=1)
RETRY_KEY_LIFE = timedelta(hours=24)
MAX_MESSAGES = 5
MAX_MULTICAST = 500
_USER_ID = re.compile(r"U[0-9a-f]{32}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ULID = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RATE_LIMITED = "The API rate limit has been exceeded. Try again later."
MONTHLY_LIMIT = "You have reached your monthly limit."


def user_id(n: int) -> str:
    """A LINE user id, as the platform makes them (U and 32 hex digits)."""
    return "U" + hashlib.md5(f"user-{n}".encode()).hexdigest()


class LineError(Exception):
    """A refusal, answered as LINE answers it."""

    def __init__(
        self, status: int, message: str, details: list[JSON] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.message, self.details = status, message, details or []
        self.headers = headers or {}

    def body(self) -> JSON:
        return {"message": self.message, **({"details": self.details} if self.details else {})}


class _Invalid(Exception):
    """One problem in a request body; they are gathered into one 400."""

    def __init__(self, prop: str, message: str) -> None:
        super().__init__(message)
        self.prop, self.message = prop, message


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    time: datetime
    json: Any = None
    status: int = 200
    response: Any = None


@dataclass
class Sent:
    """A request the fake accepted: a reply, a push or a multicast."""

    request_id: str
    kind: Kind
    to: list[str]
    messages: list[JSON]
    time: datetime
    retry_key: str | None = None
    delivered_to: list[str] = field(default_factory=list)  # not to those who blocked us


@dataclass
class _Token:
    user: str
    issued: datetime
    used: bool = False


def visible_text(message: JSON) -> str:
    return str(message.get("text", "")) if message.get("type") == "text" else ""


class FakeLine(ServedFake):
    def __init__(
        self, *, token: str = "test-line-token", channel_secret: str = "test-line-secret",
        quota: int | None = None, webhook_url: str = "", start: datetime | None = None,
        bot_user_id: str = "U" + "b" * 32,
    ) -> None:  # fmt: skip
        self._setup()
        self.token, self.channel_secret, self.bot_user_id = token, channel_secret, bot_user_id
        self.quota = quota  # messages a month; None: {"type": "none"}, no limit
        self.usage = 0  # the month's pushed messages (one per recipient)
        self.webhook_url = webhook_url  # the bot's, http://127.0.0.1:<port>/line
        self.url = ""
        self.calls: list[Call] = []
        self.sent: list[Sent] = []
        self.rejected: list[Call] = []  # send calls refused (any status but 200)
        self.posted: list[JSON] = []  # webhook events sent to the bot
        # The fake's clock runs with real time (reply tokens age as they would), shifted by
        # whatever a test moved it on.
        self._offset = timedelta(0) if start is None else start - datetime.now(UTC)
        self._friends: dict[str, tuple[str, str]] = {}  # user -> (display name, language)
        self._blocked: set[str] = set()
        self._tokens: dict[str, _Token] = {}
        self._retry_keys: dict[str, tuple[str, datetime]] = {}  # key -> (request id, when)
        self._last_body: JSON | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    # -- the clock -------------------------------------------------------------------------
    def now(self) -> datetime:
        """The fake's time: it stamps webhooks and ages reply tokens."""
        return datetime.now(UTC) + self._offset

    def advance(
        self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
    ) -> None:
        """Move time on, so a test can outlive a reply token or a retry key without sleeping."""
        self._offset += timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)

    def set_time(self, when: datetime) -> None:
        self._offset = when - datetime.now(UTC)

    # -- behaviour control -----------------------------------------------------------------
    def fail_next(
        self, kind: FaultKind, *, times: int = 1, on: Kind | Literal["any"] = "any"
    ) -> None:
        """The next `times` valid sends fail: "rate" with LINE's 429, "server" with a JSON 500,
        "html" with a proxy's HTML 502, "lost": accepted and delivered, but answered 500 (the
        answer was lost on the way), so a retry must carry the same X-Line-Retry-Key."""
        self._faults.append(Fault(on, times, error=kind))

    def block(self, user: str) -> None:
        """The user blocked the account (without the unfollow webhook: see user_blocks)."""
        self._blocked.add(user)

    def unblock(self, user: str) -> None:
        self._blocked.discard(user)

    def new_month(self) -> None:
        self.usage = 0

    # -- inspection ------------------------------------------------------------------------
    def messages_to(self, user: str) -> list[JSON]:
        """Every message object delivered to `user`, in order."""
        return [m for s in self.sent if user in s.delivered_to for m in s.messages]

    def texts_to(self, user: str) -> list[str]:
        return [visible_text(m) for m in self.messages_to(user)]

    def sends(self, kind: Kind | None = None) -> list[Sent]:
        return [s for s in self.sent if kind in (None, s.kind)]

    # -- HTTP: the Messaging API side ------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        call = Call(request.method, request.path, dict(request.headers), self.now())
        self.calls.append(call)
        request_id = secrets.token_hex(16)
        headers = {"x-line-request-id": request_id}
        route = (request.method, request.path)
        sending = route[1] in ("/v2/bot/message/reply", "/v2/bot/message/push",
                               "/v2/bot/message/multicast")  # fmt: skip
        try:
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                raise LineError(401, "Authentication failed due to the following reason: "
                                "invalid token. Confirm that the access token in the "
                                "authorization header is valid.")  # fmt: skip
            if sending and request.method == "POST":
                call.json = await self._read_json(request)
                kind: Kind = request.path.rsplit("/", 1)[1]  # type: ignore[assignment]
                retry_key = request.headers.get("X-Line-Retry-Key")
                call.response = self._send(kind, call.json, retry_key, request_id)
            elif route == ("GET", "/v2/bot/message/quota"):
                limited = {"type": "limited", "value": self.quota}
                call.response = {"type": "none"} if self.quota is None else limited
            elif route == ("GET", "/v2/bot/message/quota/consumption"):
                call.response = {"totalUsage": self.usage}
            elif request.method == "GET" and request.path.startswith("/v2/bot/profile/"):
                call.response = self._profile(request.path.rsplit("/", 1)[1])
            else:
                raise LineError(404, "Not found")
        except LineError as e:
            call.status, call.response = e.status, e.body()
            headers |= e.headers
        except RawAnswer as e:
            call.status, call.response = e.status, e.body
            if sending:
                self.rejected.append(call)
            return e.response()
        if sending and call.status != 200:
            self.rejected.append(call)
        return web.json_response(call.response, status=call.status, headers=headers)

    @staticmethod
    async def _read_json(request: web.Request) -> JSON:
        if request.content_type != "application/json":
            raise LineError(400, f"The content type, {request.content_type}, is not supported")
        try:
            body = json.loads(await request.read())
        except ValueError:
            raise LineError(400, "The request body could not be parsed as JSON") from None
        if not isinstance(body, dict):
            raise LineError(400, "The request body could not be parsed as JSON")
        return body

    def _send(self, kind: Kind, body: JSON, retry_key: str | None, request_id: str) -> JSON:
        problems: list[_Invalid] = []
        if retry_key is not None:
            if kind == "reply":
                raise LineError(400, "The retry key is not supported by this API")
            if not _UUID.fullmatch(retry_key):
                raise LineError(400, "The retry key must be a hexadecimal UUID")
            known = self._retry_keys.get(retry_key)
            if known is not None and self.now() - known[1] < RETRY_KEY_LIFE:
                accepted = {"x-line-accepted-request-id": known[0]}
                raise LineError(409, "The retry key is already accepted", headers=accepted)
        to = self._recipients(kind, body, problems)
        messages: Any = body.get("messages")
        if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
            problems.append(_Invalid("messages", f"Size must be between 1 and {MAX_MESSAGES}"))
        else:
            for i, message in enumerate(messages):
                self._check_message(message, f"messages[{i}]", problems)
        if problems:
            details = [{"message": p.message, "property": p.prop} for p in problems]
            raise LineError(400, f"The request body has {len(problems)} error(s)", details)
        if kind == "reply":
            self._check_reply_token(str(body["replyToken"]))
        else:
            for user in to:
                if user not in self._friends and user not in self._blocked:
                    raise LineError(400, "Failed to send messages")
        fault = self._pop_fault(kind)
        failure: FaultKind | None = None if fault is None else fault.error
        if failure is not None and failure != "lost":
            raise _fault_answer(failure)
        if kind == "reply":
            self._tokens[str(body["replyToken"])].used = True
        delivered = [u for u in to if u not in self._blocked]
        counted = 0 if kind == "reply" else len(delivered)
        if counted and self.quota is not None and self.usage + counted > self.quota:
            raise LineError(429, MONTHLY_LIMIT)
        self.usage += counted
        if retry_key is not None:
            self._retry_keys[retry_key] = (request_id, self.now())
        self.sent.append(Sent(request_id, kind, to, messages, self.now(), retry_key, delivered))
        if fault is not None:  # "lost": it went out, and the answer never came back
            raise LineError(500, "Internal server error")
        if kind == "multicast":
            return {}
        return {"sentMessages": [{"id": str(next(self._counter) + 10**17),
                                  "quoteToken": secrets.token_urlsafe(24)}
                                 for _ in messages]}  # fmt: skip

    def _recipients(self, kind: Kind, body: JSON, problems: list[_Invalid]) -> list[str]:
        if kind == "reply":
            token = body.get("replyToken")
            if not isinstance(token, str) or not token:
                problems.append(_Invalid("replyToken", "Must be specified"))
                return []
            known = self._tokens.get(token)
            return [known.user] if known else []
        if kind == "push":
            to = body.get("to")
            if not isinstance(to, str) or not _USER_ID.fullmatch(to):
                problems.append(_Invalid("to", "Invalid user ID"))
                return []
            return [to]
        ids = body.get("to")
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_MULTICAST:
            problems.append(_Invalid("to", f"Size must be between 1 and {MAX_MULTICAST}"))
            return []
        bad = [i for i in ids if not isinstance(i, str) or not _USER_ID.fullmatch(i)]
        if bad:
            problems.append(_Invalid("to", "Invalid user ID"))
        return [i for i in ids if i not in bad]

    def _check_message(self, message: Any, path: str, problems: list[_Invalid]) -> None:
        if not isinstance(message, dict):
            problems.append(_Invalid(path, "Must be an object"))
            return
        kind = message.get("type")
        if kind == "text":
            text = message.get("text")
            if not isinstance(text, str) or not 1 <= len(text) <= 5000:
                problems.append(_Invalid(f"{path}.text", "Length must be between 1 and 5000"))
        elif kind == "image":
            for key in ("originalContentUrl", "previewImageUrl"):
                url = message.get(key)
                if not isinstance(url, str) or not url.startswith("https://") or len(url) > 2000:
                    problems.append(_Invalid(f"{path}.{key}", "Must be an HTTPS URL"))
        else:
            problems.append(_Invalid(f"{path}.type", "Must be one of the following values: "
                                     "[text, image]"))  # fmt: skip
        if "quickReply" in message:
            self._check_quick_reply(message["quickReply"], f"{path}.quickReply", problems)

    @staticmethod
    def _check_quick_reply(quick: Any, path: str, problems: list[_Invalid]) -> None:
        items = quick.get("items") if isinstance(quick, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= 13:
            problems.append(_Invalid(f"{path}.items", "Size must be between 1 and 13"))
            return
        for i, item in enumerate(items):
            where = f"{path}.items[{i}]"
            action = item.get("action") if isinstance(item, dict) else None
            if (
                not isinstance(item, dict)
                or item.get("type") != "action"
                or not isinstance(action, dict)
            ):
                problems.append(_Invalid(where, "Invalid quick reply item"))
                continue
            label = action.get("label")
            if not isinstance(label, str) or not 1 <= len(label) <= 20:
                problems.append(_Invalid(f"{where}.action.label",
                                         "Length must be between 1 and 20"))  # fmt: skip
            if action.get("type") == "postback":
                data = action.get("data")
                if not isinstance(data, str) or not 1 <= len(data) <= 300:
                    problems.append(_Invalid(f"{where}.action.data",
                                             "Length must be between 1 and 300"))  # fmt: skip
                shown = action.get("displayText")
                if shown is not None and (not isinstance(shown, str) or len(shown) > 300):
                    problems.append(_Invalid(f"{where}.action.displayText",
                                             "Length must be between 0 and 300"))  # fmt: skip
            elif action.get("type") == "message":
                text = action.get("text")
                if not isinstance(text, str) or not 1 <= len(text) <= 300:
                    problems.append(_Invalid(f"{where}.action.text",
                                             "Length must be between 1 and 300"))  # fmt: skip
            else:
                problems.append(_Invalid(f"{where}.action.type", "Invalid action type"))

    def _check_reply_token(self, token: str) -> None:
        known = self._tokens.get(token)
        if known is None or known.used or self.now() - known.issued > REPLY_TOKEN_LIFE:
            raise LineError(400, "Invalid reply token")

    def _profile(self, user: str) -> JSON:
        if user not in self._friends or user in self._blocked:
            raise LineError(404, "Not found")
        name, language = self._friends[user]
        profile = {"displayName": name, "userId": user}
        return profile | ({"language": language} if language else {})

    # -- webhooks: the users' side ----------------------------------------------------------
    def sign(self, body: bytes) -> str:
        """The X-Line-Signature LINE would send with this body."""
        mac = hmac.new(self.channel_secret.encode(), body, hashlib.sha256).digest()
        return base64.b64encode(mac).decode()

    async def post_raw(self, body: bytes, signature: str | None = None) -> int:
        """POST any body: signature None sends none, "bad" a forged one, else as given."""
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "LineBotWebhook/2.0"}  # fmt: skip
        if signature == "bad":
            signature = base64.b64encode(hmac.new(b"guess", body, "sha256").digest()).decode()
        if signature is not None:
            headers["X-Line-Signature"] = signature
        return await self._post_webhook(body, headers)

    async def deliver(self, *events: JSON) -> int:
        body = {"destination": self.bot_user_id, "events": list(events)}
        self._last_body = body
        self.posted.extend(events)
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return await self.post_raw(raw, self.sign(raw))

    async def redeliver_last(self) -> int:
        """LINE's redelivery: the same events again, with isRedelivery true."""
        if self._last_body is None:
            raise AssertionError("no webhook was delivered yet")
        events = [e | {"deliveryContext": {"isRedelivery": True}}
                  for e in self._last_body["events"]]  # fmt: skip
        raw = json.dumps({"destination": self.bot_user_id, "events": events}).encode()
        return await self.post_raw(raw, self.sign(raw))

    def event(self, user: str, kind: str, **extra: Any) -> JSON:
        """A webhook event from `user`, with a fresh reply token where LINE gives one."""
        stamp = int(self.now().timestamp() * 1000)
        event: JSON = {"type": kind, "mode": "active", "timestamp": stamp,
                       "source": {"type": "user", "userId": user},
                       "webhookEventId": self._ulid(stamp),
                       "deliveryContext": {"isRedelivery": False}, **extra}  # fmt: skip
        if kind in ("message", "follow", "postback"):
            token = secrets.token_hex(16)
            self._tokens[token] = _Token(user, self.now())
            event["replyToken"] = token
        return event

    def _ulid(self, stamp: int) -> str:
        n = (stamp << 80) | (next(self._counter) << 16) | secrets.randbits(16)
        return "".join(_ULID[(n >> (5 * i)) & 31] for i in reversed(range(26)))

    async def user_follows(self, user: str, name: str = "Somchai", language: str = "th") -> int:
        """The user adds the account as a friend (or unblocks it)."""
        unblocked = user in self._blocked
        self._blocked.discard(user)
        self._friends[user] = (name, language)
        return await self.deliver(self.event(user, "follow", follow={"isUnblocked": unblocked}))

    async def user_blocks(self, user: str) -> int:
        self._blocked.add(user)
        return await self.deliver(self.event(user, "unfollow"))

    def _friend(self, user: str) -> None:
        if user in self._blocked:
            raise AssertionError(f"{user} blocked the account and can't write to it")
        self._friends.setdefault(user, ("Somchai", "th"))

    async def user_says(self, user: str, text: str) -> int:
        self._friend(user)
        message = {"type": "text", "id": str(next(self._counter) + 5 * 10**17),
                   "quoteToken": secrets.token_urlsafe(24), "text": text}  # fmt: skip
        return await self.deliver(self.event(user, "message", message=message))

    async def user_sends_sticker(self, user: str) -> int:
        self._friend(user)
        message = {"type": "sticker", "id": str(next(self._counter)), "packageId": "446",
                   "stickerId": "1988", "stickerResourceType": "STATIC",
                   "quoteToken": secrets.token_urlsafe(24)}  # fmt: skip
        return await self.deliver(self.event(user, "message", message=message))

    async def user_postback(self, user: str, data: str) -> int:
        """A postback with any data (a forged one, or from an old message)."""
        self._friend(user)
        return await self.deliver(self.event(user, "postback", postback={"data": data}))

    def quick_reply(self, user: str) -> list[JSON]:
        """The actions of the quick reply on screen: the last message's, if it has one (LINE
        dismisses it with the next message)."""
        messages = self.messages_to(user)
        if not messages or "quickReply" not in messages[-1]:
            return []
        return [item["action"] for item in messages[-1]["quickReply"]["items"]]

    async def user_taps(self, user: str, label_or_data: str) -> int:
        """Tap a quick reply button on screen, by its label or its data."""
        actions = self.quick_reply(user)
        found = next((a for a in actions if a.get("data") == label_or_data), None) or next(
            (a for a in actions if a["label"] == label_or_data), None
        )
        if found is None:
            labels = [a["label"] for a in actions]
            raise AssertionError(f"{label_or_data!r} is not on the quick reply: {labels}")
        if found["type"] == "message":
            return await self.user_says(user, found["text"])
        return await self.user_postback(user, found["data"])


def _fault_answer(kind: FaultKind) -> Exception:
    if kind == "rate":
        return LineError(429, RATE_LIMITED)
    if kind == "html":
        return RawAnswer(502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
    return LineError(500, "Internal server error")
