"""The Zalo OA API v3 over plain aiohttp calls: its errors, and its expiring access tokens.

There is no maintained Python SDK for v3 (the official one targets v2, which is shut down), and
what we call is four endpoints: `/v3.0/oa/message/cs` (consultation messages, free inside the
window), `/v3.0/oa/message/promotion` (proactive messages, counted), `/v2.0/oa/upload/image`,
and the OAuth server's `/v4/oa/access_token` for a new token pair.

Zalo answers most refusals with HTTP 200 and {"error": <negative int>, "message": ...}; only
error 0 is success (the error table: developers.zalo.me/docs/api/official-account-api/phu-luc/
ma-loi-post-3234; tests/fakezalo.py names the sources each code was checked in, 2026-12-03).
They become the channel-neutral errors of `bot.channels.delivery`.

Tokens: an access token lives about 25 hours and goes in the `access_token` header; the
single-use refresh token gets the next pair. The client refreshes shortly before the expiry it
was given, and once on an "invalid access token" answer (then retries the call once). Refreshes
are serialized by a lock, so two callers in one process never spend one refresh token twice;
each refresh first re-reads the stored pair, so a process that finds another's newer pair uses
it. (Two processes refreshing in the same instant can still race: the loser gets -14020 and
fails that call; a database lock would close that gap.)
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import aiohttp

from bot.channels.delivery import (
    NotAllowed,
    OverQuota,
    Rejected,
    RetryLater,
    Transient,
    Unreachable,
)
from bot.channels.window import WindowClosed
from bot.channels.zalo.tokens import TokenPair, TokenStore

log = logging.getLogger(__name__)

Endpoint = Literal["cs", "promotion", "upload", "user"]
TIMEOUT = aiohttp.ClientTimeout(total=60)
REFRESH_AHEAD = timedelta(minutes=5)  # refresh this long before the access token expires
RATE_LIMIT_PAUSE = 2.0  # Zalo gives no retry-after; the retry loop doubles this
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")  # Zalo's months (the proactive allowance) run in ICT
TOKEN_INVALID = {-216, -124}  # the access token is invalid, or expired
RATE_LIMITED = {-32}  # the app's request rate
NOT_FOLLOWING = {-213}  # the user does not follow the OA, or blocked it
OUT_OF_QUOTA = {-211}
OUTSIDE_WINDOW = {-230}  # the user has not interacted within the allowed time
NOT_IN_PACKAGE = {-224}  # the OA's package (an unverified OA) does not allow this


class TokenRejected(Exception):
    """Zalo says the access token is invalid or expired (internal: triggers a refresh)."""


def next_month(now: datetime) -> datetime:
    """The start of the next calendar month in Vietnam, when the allowance renews."""
    local = now.astimezone(VIETNAM)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=VIETNAM).astimezone(UTC)


def read_answer(status: int, raw: str, endpoint: Endpoint, now: datetime) -> dict[str, Any]:
    """The answer's JSON on success, or the delivery error its error code means."""
    if status == 401:
        raise TokenRejected()
    if status == 429:
        raise RetryLater(RATE_LIMIT_PAUSE)
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or status >= 500:
        # A proxy's HTML error page, a cut-off body, a 5xx: nothing says what happened.
        raise Transient(f"HTTP {status} with a body that is not a Zalo answer: {raw[:80]!r}")
    code = answer.get("error")
    if status < 300 and code == 0:
        return answer
    code = int(code) if isinstance(code, int) else 0
    found = f"Zalo error {code}: {str(answer.get('message') or '')[:200]} (HTTP {status})"
    if code in TOKEN_INVALID:
        raise TokenRejected()
    if code in RATE_LIMITED:
        raise RetryLater(RATE_LIMIT_PAUSE)
    if code in NOT_FOLLOWING:
        raise Unreachable(found)
    if endpoint == "cs" and code in OUT_OF_QUOTA | OUTSIDE_WINDOW:
        raise WindowClosed(f"outside the 48 h window or its 8 replies ({found})")
    if endpoint == "promotion" and code in OUT_OF_QUOTA:
        raise OverQuota(f"the OA's proactive allowance is used up ({found})", next_month(now))
    if code in NOT_IN_PACKAGE | OUTSIDE_WINDOW:
        raise NotAllowed(found)
    raise Rejected(found)


class RefreshFailed(Rejected):
    """The OAuth server refused the refresh token: an OA admin must authorize the app again."""


class ZaloApi:
    """One OA's API, with its token pair kept fresh."""

    def __init__(
        self,
        *,
        api_url: str,
        oauth_url: str,
        app_id: str,
        app_secret: str,
        tokens: TokenStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._api = api_url.rstrip("/")
        self._oauth = oauth_url.rstrip("/")
        self.app_id = app_id
        self._app_secret = app_secret
        self.tokens = tokens
        self.clock = clock
        self._pair: TokenPair | None = None
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    # -- tokens --------------------------------------------------------------------------------

    async def access_token(self) -> str:
        """The access token to call with, refreshed first when it is about to expire."""
        if self._pair is None:
            async with self._lock:  # one read: a late one must not undo a refresh
                if self._pair is None:
                    self._pair = await self.tokens.current()
        pair = self._pair
        if pair.expires_at is not None and self.clock() >= pair.expires_at - REFRESH_AHEAD:
            await self.refresh(pair.access_token)
            assert self._pair is not None
        return self._pair.access_token

    async def refresh(self, stale: str) -> None:
        """Replace the access token `stale` with a new pair (once, however many ask)."""
        async with self._lock:
            if self._pair is not None and self._pair.access_token != stale:
                return  # another caller refreshed while we waited
            stored = await self.tokens.current()
            if stored.access_token != stale and (
                stored.expires_at is None or self.clock() < stored.expires_at - REFRESH_AHEAD
            ):
                self._pair = stored  # another process refreshed; its pair is good
                return
            self._pair = await self._exchange(stored.refresh_token)
            await self.tokens.save(self._pair, self.clock())
            log.info("Zalo access token refreshed; it expires at %s", self._pair.expires_at)

    async def _exchange(self, refresh_token: str) -> TokenPair:
        form = {
            "app_id": self.app_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        headers = {"secret_key": self._app_secret}
        url = f"{self._oauth}/v4/oa/access_token"
        try:
            async with self._http().post(url, data=form, headers=headers) as response:
                status, raw = response.status, await response.text()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Transient(f"the Zalo OAuth server did not answer: {exc}") from exc
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or status >= 500:
            raise Transient(f"HTTP {status} from the Zalo OAuth server: {raw[:80]!r}")
        if not answer.get("access_token") or not answer.get("refresh_token"):
            reason = answer.get("error_description") or answer.get("error_name") or answer
            raise RefreshFailed(
                f"Zalo refused to refresh the access token (error {answer.get('error')}: "
                f"{reason}); authorize the app again for the OA and set ZALO_OA_ACCESS_TOKEN "
                "and ZALO_REFRESH_TOKEN"
            )
        try:
            lifetime = timedelta(seconds=int(answer.get("expires_in") or 0))
        except (TypeError, ValueError):
            lifetime = timedelta(0)
        expires = self.clock() + lifetime if lifetime else None
        return TokenPair(str(answer["access_token"]), str(answer["refresh_token"]), expires)

    # -- calls ---------------------------------------------------------------------------------

    async def _post(
        self,
        endpoint: Endpoint,
        path: str,
        body: Callable[[], dict[str, Any]],
        method: str = "POST",
    ) -> dict[str, Any]:
        """POST `body()` (made again for a retry: a form is spent by its request) with the
        access token; on "invalid token", refresh once and retry once."""
        for attempt in (1, 2):
            token = await self.access_token()
            try:
                async with self._http().request(
                    method, f"{self._api}{path}", headers={"access_token": token}, **body()
                ) as response:
                    status, raw = response.status, await response.text()
            except TimeoutError as exc:
                raise Transient("the Zalo API did not answer in time") from exc
            except aiohttp.ClientError as exc:
                raise Transient(f"{type(exc).__name__}: {exc}") from exc
            try:
                return read_answer(status, raw, endpoint, self.clock())
            except TokenRejected:
                if attempt == 2:
                    raise Rejected("Zalo refused a freshly refreshed access token") from None
                log.info("Zalo says the access token is invalid; refreshing it")
                await self.refresh(token)
        raise AssertionError("unreachable")

    async def send(self, endpoint: Literal["cs", "promotion"], user_id: str, message: Any) -> str:
        """Send one message; the message id Zalo gave it."""
        body = {"recipient": {"user_id": user_id}, "message": message}
        path = f"/v3.0/oa/message/{endpoint}"
        answer = await self._post(endpoint, path, lambda: {"json": body})
        data = answer.get("data")
        if not isinstance(data, dict) or not data.get("message_id"):
            raise Transient(f"Zalo answered without a message id: {str(answer)[:80]}")
        return str(data["message_id"])

    async def upload_image(self, filename: str, data: bytes, mime: str) -> str:
        """Upload a jpg or png once; the attachment id that messages show it by."""

        def form() -> dict[str, Any]:
            made = aiohttp.FormData()
            made.add_field("file", data, filename=filename, content_type=mime)
            return {"data": made}

        answer = await self._post("upload", "/v2.0/oa/upload/image", form)
        found = answer.get("data")
        if not isinstance(found, dict) or not found.get("attachment_id"):
            raise Transient(f"Zalo answered an upload without an id: {str(answer)[:80]}")
        return str(found["attachment_id"])

    async def user_name(self, user_id: str) -> str:
        """The name the learner shows on Zalo (webhook events carry none), or "" if unknown."""
        query = {"data": json.dumps({"user_id": user_id})}
        answer = await self._post("user", "/v3.0/oa/user/detail", lambda: {"params": query}, "GET")
        data = answer.get("data")
        return str(data.get("display_name") or "") if isinstance(data, dict) else ""
