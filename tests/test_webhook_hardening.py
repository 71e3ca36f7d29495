"""The webhook against hostile callers (issue #14): bytes that are not UTF-8 in the secret
header, JSON nested past the recursion limit, guessable secrets, and floods of wrong guesses.

The real aiohttp app is served as `lessonbot run` serves it (an AppRunner and a TCPSite), on
127.0.0.1 only, and spoken to over real HTTP.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.channels.telegram.runner import check_settings
from bot.channels.telegram.webhook import SECRET_HEADER, Refusals, webhook_app
from bot.config import Settings
from bot.errors import ConfigError
from bot.store.health import Health

SECRET = "hardening-test-webhook-secret_0123456789"
TOKEN = "123456:TEST-token-for-the-hardening-tests"
WEBHOOK_LOG = "bot.channels.telegram.webhook"


@dataclass
class Server:
    port: int
    runner: web.AppRunner
    stored: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tg"

    async def raw(self, request: bytes) -> tuple[int, bytes]:
        """Send `request` as bytes, exactly; return the status and the body of the answer."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(request)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), timeout=10)
        finally:
            writer.close()
            await writer.wait_closed()
        head, _, body = answer.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), body


def post(secret: bytes, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (
        b"POST /tg HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + SECRET_HEADER.encode()
        + b": "
        + secret
        + b"\r\nContent-Type: "
        + content_type
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    stored: list[dict[str, Any]] = []

    async def store(update: dict[str, Any]) -> None:
        stored.append(update)

    async def healthy() -> Health:
        return Health("ok")

    runner = web.AppRunner(webhook_app("/tg", SECRET, store, healthy))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)  # loopback only, any free port
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Server(port, runner, stored)
    finally:
        await runner.cleanup()


def assert_no_error_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, caplog.text
    assert "Traceback" not in caplog.text


def warnings_of_the_webhook(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == WEBHOOK_LOG and r.levelno == logging.WARNING
    ]


@pytest.mark.parametrize(
    "header",
    [
        b"\xff\xfe\xe9",  # not UTF-8 at all: aiohttp decodes it to surrogates
        b"\xe9t\xe9-latin-1",  # latin-1 bytes
        b"caf\xc3\xa9-valid-utf8",  # valid UTF-8, not ASCII
        SECRET.encode() + b"\x80",  # the right secret with one stray byte after it
    ],
)
async def test_a_secret_header_of_raw_non_ascii_bytes_is_refused_with_401(
    server: Server, caplog: pytest.LogCaptureFixture, header: bytes
) -> None:
    caplog.set_level(logging.INFO)
    status, body = await server.raw(post(header, b'{"update_id": 1}'))
    assert status == 401
    assert b"wrong or missing secret token" in body
    assert not server.stored
    assert_no_error_logged(caplog)
    assert len(warnings_of_the_webhook(caplog)) == 1


async def test_json_nested_300000_deep_is_answered_400_not_500(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    arrays = b"[" * 300_000 + b"]" * 300_000
    objects = b'{"a":' * 150_000 + b"1" + b"}" * 150_000  # under the 1 MiB a body may have
    for deep in (arrays, objects):
        status, body = await server.raw(post(SECRET.encode(), deep))
        assert status == 400
        assert body == b"body is not JSON"
    assert not server.stored
    assert_no_error_logged(caplog)


async def test_a_body_in_an_unknown_charset_or_not_utf8_is_a_400(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # request.json() decoded by the Content-Type's charset: an unknown one raised LookupError.
    weird = b"application/json; charset=no-such-charset"
    status, _ = await server.raw(post(SECRET.encode(), b'{"update_id": 5}', weird))
    assert status == 200
    status, body = await server.raw(post(SECRET.encode(), b'{"update_id": "\xff"}'))
    assert (status, body) == (400, b"body is not JSON")
    assert server.stored == [{"update_id": 5}]
    assert_no_error_logged(caplog)


async def test_the_right_secret_still_gets_its_update_stored(server: Server) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(server.url, json={"update_id": 7}, headers={SECRET_HEADER: SECRET}) as answer,
    ):
        assert answer.status == 200
    assert server.stored == [{"update_id": 7}]


async def test_a_hundred_wrong_guesses_are_each_refused_but_logged_at_most_twice(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    statuses = []
    async with aiohttp.ClientSession() as http:
        for guess in range(100):
            headers = {SECRET_HEADER: f"guess-{guess:04d}-of-the-secret"}
            async with http.post(server.url, json={"update_id": 1}, headers=headers) as answer:
                statuses.append(answer.status)
        # Telegram itself is not held back by the guesses.
        headers = {SECRET_HEADER: SECRET}
        async with http.post(server.url, json={"update_id": 2}, headers=headers) as answer:
            assert answer.status == 200
    assert statuses == [401] * 100
    assert server.stored == [{"update_id": 2}]
    assert len(warnings_of_the_webhook(caplog)) == 1  # the first, at once
    await server.runner.cleanup()  # stopping says how many were refused since that line
    warned = warnings_of_the_webhook(caplog)
    assert len(warned) == 2, warned
    assert warned[0] == "webhook call without the right secret from 127.0.0.1"
    assert warned[1].startswith("99 webhook calls without the right secret since the last")
    assert_no_error_logged(caplog)


async def test_refusals_are_summed_up_once_the_interval_has_passed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    refusals = Refusals(logging.getLogger(WEBHOOK_LOG), every=0.2)
    for _ in range(5):
        refusals.refuse("203.0.113.9")
    assert len(warnings_of_the_webhook(caplog)) == 1
    await asyncio.sleep(0.5)  # the summary comes by itself, with no further guess
    warned = warnings_of_the_webhook(caplog)
    assert warned == [
        "webhook call without the right secret from 203.0.113.9",
        "4 webhook calls without the right secret since the last such warning, "
        "the latest from 203.0.113.9",
    ]
    refusals.flush()  # nothing left to say
    assert len(warnings_of_the_webhook(caplog)) == 2


def webhook_settings(secret: str) -> Settings:
    return Settings(
        bot_token=TOKEN,
        webhook_url="https://bot.example.org/tg",
        webhook_secret=secret,
        _env_file=None,
    )


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        ("a", "at least 16 characters"),
        ("s3cret", "at least 16 characters"),
        ("x" * 15, "at least 16 characters"),
        ("x" * 257, "at most 256 characters"),
        ("sixteen chars ok", "only the letters"),  # spaces
        ("secret+token/with=base64", "only the letters"),
        ("é" * 20, "only the letters"),  # isalnum, but not ASCII
        ("٣" * 20, "only the letters"),  # a non-ASCII digit
        ("", "WEBHOOK_SECRET is not"),
    ],
)
def test_a_guessable_or_invalid_secret_is_refused_at_start_up(secret: str, says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_settings(webhook_settings(secret))
    message = str(refused.value)
    assert says in message
    assert "python -c 'import secrets; print(secrets.token_urlsafe(32))'" in message
    if len(secret) >= 8:
        assert secret not in message  # the error never repeats the secret


@pytest.mark.parametrize(
    "secret", ["x" * 16, "A-z_0-9" * 36 + "abcd", "x" * 256, "dGhpcyBpcyBhIHRlc3Q-_A"]
)
def test_a_strong_secret_in_telegrams_alphabet_is_accepted(secret: str) -> None:
    check_settings(webhook_settings(secret))


def test_polling_mode_does_not_check_the_unused_secret() -> None:
    settings = Settings(bot_token=TOKEN, webhook_url="", webhook_secret="a", _env_file=None)
    check_settings(settings)
