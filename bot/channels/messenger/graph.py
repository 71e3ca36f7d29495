"""The Messenger Send API over plain Graph API calls (aiohttp), and its errors.

There is no maintained Python SDK for the Messenger Platform, so this is a thin client of the
two endpoints we call: `/me/messages` (a message, or a sender action) and
`/me/message_attachments` (a reusable upload). The Page access token goes as the
`access_token` parameter, as the Send API reference shows
(developers.facebook.com/docs/messenger-platform/reference/send-api, checked 2026-12-03).

Errors become the channel-neutral ones of `bot.channels.delivery`, by Graph's code and subcode
(developers.facebook.com/docs/messenger-platform/error-codes, checked 2026-12-03):
- 10 with subcode 2018278, "This message is sent outside of allowed window": WindowClosed;
- 4, 32, 613 (the app's, the Page's and the Send API's call limits) and HTTP 429: RetryLater;
- 551 and 200/1545041 ("This person isn't available right now": they blocked the Page or
  turned its messages off), and 100/2018001 ("No matching user found": the account is gone):
  Unreachable;
- 1 and 2 (Graph's "retry your request later"), HTTP 5xx, or a body that is not Graph's
  JSON (a proxy's HTML page): Transient;
- anything else (a 4xx): Rejected.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from bot.channels.delivery import Rejected, RetryLater, Transient, Unreachable
from bot.channels.window import WindowClosed

log = logging.getLogger(__name__)

GRAPH_VERSION = "v23.0"
TIMEOUT = aiohttp.ClientTimeout(total=60)
# Meta gives no retry-after for its call limits and says to pause until the calls drop below
# them; this, doubled by the reply relay's retries, is that pause.
RATE_LIMIT_PAUSE = 2.0
RATE_LIMITED = {4, 32, 613}
WINDOW_CLOSED = (10, 2018278)
UNAVAILABLE = {(551, None), (551, 1545041), (200, 1545041), (100, 2018001)}
RETRY = {1, 2}
MessagingType = Literal["RESPONSE", "UPDATE"]


@dataclass(frozen=True)
class GraphError:
    status: int
    code: int
    subcode: int | None
    message: str

    def __str__(self) -> str:
        sub = f"/{self.subcode}" if self.subcode is not None else ""
        return f"Messenger error {self.code}{sub}: {self.message} (HTTP {self.status})"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_answer(status: int, raw: str, retry_after: str | None = None) -> dict[str, Any]:
    """The answer's JSON on success, or the delivery error its code means."""
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        # A proxy's HTML error page, a cut-off body: nothing says what happened; try again.
        raise Transient(f"HTTP {status} with a body that is not a Graph API answer: {raw[:80]!r}")
    if 200 <= status < 300 and "error" not in answer:
        return answer
    error = answer.get("error")
    error = error if isinstance(error, dict) else {}
    found = GraphError(
        status,
        _int(error.get("code")) or 0,
        _int(error.get("error_subcode")),
        str(error.get("message") or "")[:200],
    )
    if found.code in RATE_LIMITED or status == 429:
        pause = RATE_LIMIT_PAUSE
        if retry_after is not None and retry_after.isdigit():
            pause = max(pause, float(retry_after))
        raise RetryLater(pause)
    if (found.code, found.subcode) == WINDOW_CLOSED:
        raise WindowClosed(f"outside Messenger's 24 h window ({found})")
    if (found.code, found.subcode) in UNAVAILABLE or found.code == 551:
        raise Unreachable(str(found))
    if status >= 500 or found.code in RETRY:
        raise Transient(str(found))
    raise Rejected(str(found))


class MessengerGraph:
    """One Page's Send API: send a message or a sender action, upload an attachment."""

    def __init__(self, api_url: str, page_token: str) -> None:
        self._base = f"{api_url.rstrip('/')}/{GRAPH_VERSION}/me"
        self._params = {"access_token": page_token}
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, endpoint: str, **body: Any) -> dict[str, Any]:
        url = f"{self._base}/{endpoint}"
        try:
            async with self._http().post(url, params=self._params, **body) as response:
                status, raw = response.status, await response.text()
                retry_after = response.headers.get("Retry-After")
        except TimeoutError as exc:
            raise Transient("the Send API did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        return read_answer(status, raw, retry_after)

    async def send(
        self, psid: str, message: dict[str, Any], messaging_type: MessagingType = "RESPONSE"
    ) -> str:
        """Send one message (`text` or `attachment`, maybe `quick_replies`); its mid."""
        body = {"recipient": {"id": psid}, "messaging_type": messaging_type, "message": message}
        answer = await self._post("messages", json=body)
        if "message_id" not in answer:
            raise Transient(f"the Send API answered without a message id: {str(answer)[:80]}")
        return str(answer["message_id"])

    async def mark_seen(self, psid: str) -> None:
        await self._post("messages", json={"recipient": {"id": psid}, "sender_action": "mark_seen"})

    async def upload(self, kind: str, filename: str, data: bytes, mime: str) -> str:
        """Upload a file once (`kind`: image, file or audio); the attachment id to send it by."""
        form = aiohttp.FormData()
        attachment = {"type": kind, "payload": {"is_reusable": True}}
        form.add_field("message", json.dumps({"attachment": attachment}))
        form.add_field("filedata", data, filename=filename, content_type=mime)
        answer = await self._post("message_attachments", data=form)
        if "attachment_id" not in answer:
            raise Transient(f"an upload was answered without an id: {str(answer)[:80]}")
        return str(answer["attachment_id"])
