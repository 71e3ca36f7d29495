"""What the loopback fakes of messaging platforms share (fakewhatsapp, fakemessenger, fakeline,
fakezalo): the aiohttp server on 127.0.0.1, the client that posts webhooks to the bot, the
fake's clock, the queue of injected faults, and the records those use. Each platform's rules
stay in its own fake.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Self, TypeVar

import aiohttp
from aiohttp import web

JSON = dict[str, Any]
E = TypeVar("E")


class RawAnswer(Exception):
    """A non-platform answer (a proxy's HTML page, a cut-off body), sent as it is."""

    def __init__(self, status: int, body: str, content_type: str) -> None:
        super().__init__(body)
        self.status, self.body, self.content_type = status, body, content_type

    def response(self) -> web.Response:
        return web.Response(status=self.status, text=self.body, content_type=self.content_type)


@dataclass
class Fault(Generic[E]):
    """An injected failure, for the next `times` calls to `on` (or "any")."""

    on: str
    times: int
    to: str | None = None  # only calls for this recipient, if given
    error: E | None = None  # what to answer: the platform's error (or kind of failure)
    raw: RawAnswer | None = None  # or this raw answer instead
    after: int = 0  # calls let through first


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    time: datetime  # the fake's clock
    json: Any = None
    form: dict[str, str] | None = None  # multipart fields; the file itself is in `uploads`
    status: int = 200
    response: Any = None  # the JSON answered, or the raw text of an injected failure


class FakePlatform:
    """The scaffolding of a fake: call _setup() from __init__ (or __post_init__), give the
    routes in _app(); `async with fake:` serves it on a free port, at `fake.url`."""

    url: str
    webhook_url: str  # the bot's
    _clock: datetime

    def _setup(self) -> None:
        self._faults: list[Fault[Any]] = []
        self._counter = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def _app(self) -> web.Application:
        raise NotImplementedError

    # -- lifecycle -------------------------------------------------------------------
    async def _serve(self) -> None:
        self._runner = web.AppRunner(self._app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()

    async def _shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self._serve()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._shutdown()

    # -- the clock -------------------------------------------------------------------
    def _start_clock(self, start: datetime | None) -> None:
        self._clock = (start or datetime.now(UTC)).replace(microsecond=0)

    def now(self) -> datetime:
        """The fake's time: it stamps webhooks and decides the messaging window."""
        return self._clock

    def set_time(self, when: datetime) -> None:
        self._clock = when

    # -- faults ----------------------------------------------------------------------
    def _pop_fault(self, target: str, to: str | None = None) -> Fault[Any] | None:
        """The fault this call to `target` (for `to`) meets, if any, counted as used."""
        for fault in self._faults:
            if fault.on in (target, "any") and fault.to in (None, to):
                if fault.after > 0:
                    fault.after -= 1
                    return None
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _take_fault(self, target: str, to: str | None = None) -> None:
        """Raise the error (or raw answer) of the fault this call meets, if any."""
        fault = self._pop_fault(target, to)
        if fault is None:
            return
        if fault.raw is not None:
            raise fault.raw
        assert isinstance(fault.error, Exception)
        raise fault.error

    # -- webhooks: the users' side ---------------------------------------------------
    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or not self.webhook_url:
            raise AssertionError("start the fake and set fake.webhook_url to the bot's webhook")
        return self._session

    async def _post_webhook(self, body: bytes, headers: dict[str, str]) -> int:
        async with self._client().post(self.webhook_url, data=body, headers=headers) as r:
            await r.read()
            return r.status


class ServedFake(FakePlatform):
    """A fake that can also be started and stopped by hand."""

    async def start(self) -> None:
        await self._serve()

    async def stop(self) -> None:
        await self._shutdown()


class GraphFake(ServedFake):
    """What Meta's two Graph APIs (WhatsApp Cloud, Messenger) share: signed webhooks, their
    redelivery and the subscription handshake."""

    app_secret: str
    _last_delivery: bytes | None

    def clear_faults(self) -> None:
        self._faults.clear()

    def sign(self, body: bytes) -> str:
        """The X-Hub-Signature-256 value Meta would send with this body."""
        return "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()

    def _signature_headers(self, body: bytes, signature: str) -> dict[str, str]:
        return {"X-Hub-Signature-256": signature}

    async def post_raw(self, body: bytes, signature: str | None = None) -> int:
        """POST any body to the bot: signature None sends none, "bad" a forged one, anything
        else is sent as given (fake.sign(body) for a good one). Returns the bot's status."""
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if signature == "bad":
            signature = "sha256=" + hmac.new(b"not-the-secret", body, hashlib.sha256).hexdigest()
        if signature is not None:
            headers |= self._signature_headers(body, signature)
        return await self._post_webhook(body, headers)

    async def _deliver(self, payload: JSON) -> int:
        # Compact and \u-escaped, as Meta sends it (and signs it).
        body = json.dumps(payload, separators=(",", ":")).encode()
        self._last_delivery = body
        return await self.post_raw(body, self.sign(body))

    async def redeliver_last(self) -> int:
        """Post the last webhook again, byte for byte: Meta retries until it gets a 200."""
        if self._last_delivery is None:
            raise AssertionError("no webhook was delivered yet")
        return await self.post_raw(self._last_delivery, self.sign(self._last_delivery))

    async def verify_subscription(self, verify_token: str, challenge: str) -> tuple[int, str]:
        """Meta's GET handshake when the webhook is configured: (status, text) of the bot."""
        params = {"hub.mode": "subscribe", "hub.verify_token": verify_token,
                  "hub.challenge": challenge}  # fmt: skip
        async with self._client().get(self.webhook_url, params=params) as r:
            return r.status, await r.text()
