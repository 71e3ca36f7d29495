"""The WhatsApp Cloud API over plain Graph API calls (aiohttp), and its errors.

Why not pywa: it sets its httpx client's base URL to graph.facebook.com itself, where
WHATSAPP_API_URL must point tests and gateways elsewhere; it would add httpx beside the
aiohttp we already run; and its webhook side is built for FastAPI or Flask and dispatches
updates to handlers at once, where ours stores each update in the inbox first. What we call is
two endpoints, `/{phone id}/messages` and `/{phone id}/media`.

Errors become the channel-neutral ones of `bot.channels.delivery`, by the Cloud API's error
codes (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes, checked
2026-12-02).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.channels.delivery import Rejected, RetryLater, Transient, Unreachable
from bot.channels.window import WindowClosed

log = logging.getLogger(__name__)

GRAPH_VERSION = "v23.0"
TIMEOUT = aiohttp.ClientTimeout(total=60)
# Throughput (130429) and pair rate (131056, too many messages to one user) limits: Meta says
# to back off and gives no retry-after; a pause of this long, doubled by the retry loop, is
# what its guidance suggests.
RATE_LIMIT_PAUSE = 2.0
RATE_LIMITED = {130429, 131056, 80007, 4}  # 4 and 80007: the app's and account's call limits
WINDOW_CLOSED = 131047  # re-engagement: more than 24 h since the user's last message
# Undeliverable: not on WhatsApp, an old app, or (Meta does not say which) a user who blocked us.
UNDELIVERABLE = {131026}


@dataclass(frozen=True)
class GraphError:
    status: int
    code: int
    message: str

    def __str__(self) -> str:
        return f"WhatsApp error {self.code}: {self.message} (HTTP {self.status})"


def read_answer(status: int, raw: str) -> dict[str, Any]:
    """The answer's JSON on success, or the delivery error its error code means."""
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
    code = error.get("code")
    found = GraphError(
        status, int(code) if isinstance(code, int) else 0, str(error.get("message") or "")[:200]
    )
    if found.code in RATE_LIMITED or status == 429:
        raise RetryLater(RATE_LIMIT_PAUSE)
    if found.code == WINDOW_CLOSED:
        raise WindowClosed(f"outside the 24 h window ({found})")
    if found.code in UNDELIVERABLE:
        raise Unreachable(str(found))
    if status >= 500 or found.code in (1, 2, 131000, 131016):  # Graph's "try again later"
        raise Transient(str(found))
    raise Rejected(str(found))


class Graph:
    """One phone number's Cloud API: send a message, upload a file."""

    def __init__(self, api_url: str, token: str, phone_number_id: str) -> None:
        self._base = f"{api_url.rstrip('/')}/{GRAPH_VERSION}/{phone_number_id}"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=TIMEOUT)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, endpoint: str, **body: Any) -> dict[str, Any]:
        try:
            async with self._http().post(f"{self._base}/{endpoint}", **body) as response:
                status, raw = response.status, await response.text()
        except TimeoutError as exc:
            raise Transient("the Cloud API did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        return read_answer(status, raw)

    async def send(self, to: str, message: dict[str, Any]) -> str:
        """Send one message (`type` and its object); the message's id (a wamid)."""
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
        answer = await self._post("messages", json=body | message)
        messages = answer.get("messages")
        if not isinstance(messages, list) or not messages or "id" not in messages[0]:
            raise Transient(f"the Cloud API answered without a message id: {str(answer)[:80]}")
        return str(messages[0]["id"])

    async def mark_read(self, message_id: str) -> None:
        """Blue ticks on the learner's message: they see it was read while the reply is made."""
        body = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
        await self._post("messages", json=body)

    async def upload(self, filename: str, data: bytes, mime: str) -> str:
        """Upload a file once; the media id that later messages send it by."""
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime)
        form.add_field("file", data, filename=filename, content_type=mime)
        answer = await self._post("media", data=form)
        if "id" not in answer:
            raise Transient(f"the Cloud API answered an upload without an id: {str(answer)[:80]}")
        return str(answer["id"])
