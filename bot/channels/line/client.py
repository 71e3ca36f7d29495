"""The LINE Messaging API through the official line-bot-sdk, and its errors.

`LineApi` wraps the SDK's AsyncMessagingApi (pointed at LINE_API_URL with
`Configuration(host=...)`) for the five calls the bot makes: reply, push, multicast, the monthly
quota and a learner's profile. Message objects are built as plain dicts by `render` and turned
into the SDK's request models here, so the SDK checks their shape before they leave.

Failures become the channel-neutral errors of `bot.channels.delivery`, by LINE's status codes
and error messages (developers.line.biz/en/reference/messaging-api/#status-codes and
#error-messages, checked 2026-12-03):
- 429 "You have reached your monthly limit.": OverQuota until the first day of next month;
  any other 429 (the rate limit, concurrent operations): RetryLater;
- 409: the retry key was accepted before, so the push went out: `AlreadyAccepted`;
- 400 "Invalid reply token": `InvalidReplyToken`, so the sender pushes instead;
- 400 "Failed to send messages" (no such user, or not a friend): Unreachable;
- 5xx, a body that is not LINE's JSON (a proxy's HTML page), a timeout: Transient;
- any other 4xx: Rejected.
A user who blocked the account is not an error at all: LINE accepts the push and drops it,
and says so by the unfollow event (see `channel.py`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
)

from bot.channels.delivery import (
    DeliveryError,
    OverQuota,
    Rejected,
    RetryLater,
    Transient,
    Unreachable,
)

log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=30)
# LINE gives no Retry-After with its 429; its guidance is to back off and try again.
RATE_LIMIT_PAUSE = 1.0
MONTHLY_LIMIT = "monthly limit"
INVALID_REPLY_TOKEN = "Invalid reply token"
FAILED_TO_SEND = "Failed to send messages"

Message = dict[str, Any]


class InvalidReplyToken(Rejected):
    """The reply token expired or was used: the messages must be pushed."""


class AlreadyAccepted(DeliveryError):
    """409: a request with this retry key was accepted before; `request_id` is its id."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"already accepted as request {request_id}")
        self.request_id = request_id


def next_month(now: datetime) -> datetime:
    """When LINE's monthly quota starts again: the first day of next month (UTC)."""
    now = now.astimezone(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def mapped(exc: ApiException, now: datetime | None = None) -> DeliveryError:
    """The delivery error an SDK ApiException means."""
    status = int(exc.status or 0)
    raw = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else exc.body
    try:
        answer = json.loads(raw or "")
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("message"), str):
        return Transient(f"HTTP {status} with a body that is not a LINE answer: {raw!r:.80}")
    message = answer["message"]
    details = "; ".join(
        f"{d.get('property', '')}: {d.get('message', '')}"
        for d in answer.get("details") or ()
        if isinstance(d, dict)
    )
    text = f"LINE {status}: {message}" + (f" ({details})" if details else "")
    if status == 429 and MONTHLY_LIMIT in message:
        return OverQuota(text, next_month(now or datetime.now(UTC)))
    if status == 429:
        return RetryLater(RATE_LIMIT_PAUSE)
    if status == 409:
        headers = exc.headers or {}
        return AlreadyAccepted(str(headers.get("x-line-accepted-request-id", "")))
    if status >= 500 or status == 0:
        return Transient(text)
    if status == 400 and message == INVALID_REPLY_TOKEN:
        return InvalidReplyToken(text)
    if status == 400 and message == FAILED_TO_SEND:
        return Unreachable(text)
    return Rejected(text)


@dataclass(frozen=True)
class Profile:
    display_name: str
    language: str  # "" when LINE does not know or the user did not share it


@dataclass(frozen=True)
class Quota:
    limit: int | None  # messages a month; None: no limit
    used: int

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


class LineApi:
    """One channel's Messaging API. The SDK's HTTP session is opened on first use, inside the
    event loop, and closed by `close`."""

    def __init__(self, api_url: str, token: str) -> None:
        self._configuration = Configuration(host=api_url.rstrip("/"), access_token=token)
        self._client: Any = None
        self._api: Any = None

    def _messaging(self) -> Any:
        if self._api is None:
            self._client = AsyncApiClient(self._configuration)
            self._api = AsyncMessagingApi(self._client)
        return self._api

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = self._api = None

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            call = getattr(self._messaging(), method)
            return await call(*args, _request_timeout=TIMEOUT, **kwargs)
        except ApiException as exc:
            raise mapped(exc) from None
        except TimeoutError as exc:
            raise Transient("LINE did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        except ValueError as exc:  # a 200 whose body the SDK could not read
            raise Transient(f"LINE answered something unreadable: {exc}") from exc

    async def reply(self, reply_token: str, messages: Sequence[Message]) -> list[str]:
        """Answer with the reply token (free, single use); the sent messages' ids."""
        request = ReplyMessageRequest.from_dict(
            {"replyToken": reply_token, "messages": list(messages)}
        )
        answer = await self._call("reply_message", request)
        return [str(m.id) for m in answer.sent_messages or ()]

    async def push(self, to: str, messages: Sequence[Message], retry_key: str) -> str:
        """Push to one user (counts against the monthly quota); the first message's id, or
        the accepted request's id when this retry key went out before."""
        request = PushMessageRequest.from_dict({"to": to, "messages": list(messages)})
        try:
            answer = await self._call("push_message", request, x_line_retry_key=retry_key)
        except AlreadyAccepted as accepted:
            log.info("a retried LINE push to %s had gone out already", to)
            return accepted.request_id
        sent = answer.sent_messages or ()
        return str(sent[0].id) if sent else ""

    async def multicast(
        self, to: Sequence[str], messages: Sequence[Message], retry_key: str
    ) -> None:
        """Send the same messages to up to 500 users in one call."""
        request = MulticastRequest.from_dict({"to": list(to), "messages": list(messages)})
        try:
            await self._call("multicast", request, x_line_retry_key=retry_key)
        except AlreadyAccepted:
            log.info("a retried LINE multicast had gone out already")

    async def quota(self) -> Quota:
        """This month's message quota and what was used of it."""
        limit = await self._call("get_message_quota")
        used = await self._call("get_message_quota_consumption")
        value = limit.value if str(getattr(limit.type, "value", limit.type)) == "limited" else None
        return Quota(None if value is None else int(value), int(used.total_usage or 0))

    async def profile(self, user_id: str) -> Profile | None:
        """The user's display name and language; None if LINE won't say (not a friend)."""
        try:
            found = await self._call("get_profile", user_id)
        except Rejected:
            return None
        return Profile(str(found.display_name or ""), str(found.language or ""))
