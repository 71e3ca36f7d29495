"""WhatsApp webhook throughput and latency: LessonBot against a bare aiohttp webhook.

    python -m bench.whatsapp_webhook [--learners 100] [--messages 20] [--rounds 5]
        [--postgres URL]

The path measured, end to end: a signed webhook POST in (`X-Hub-Signature-256`, as Meta signs
it) -> the bot -> its reply POSTed to a loopback fake of the Graph API
(`/v23.0/{phone id}/messages`). An update is done when its reply reaches the fake.

- LessonBot is `serve(settings)` with only WhatsApp configured, as `lessonbot run` runs it:
  the webhook checks the signature and stores each message in the durable inbox (a committed
  write) before answering 200; the inbox worker then marks the message read (one Graph call),
  runs the engine, stores the learner's progress with the reply and sends the reply's parts.
- The bare webhook is a few lines of aiohttp: it checks the same signature, parses the JSON and
  answers each message with one Graph call (a text message echoing it), then 200. It stores
  nothing, reads nothing and marks nothing read.

The load is the same for both: N simulated learners, each sending `/start online-safety`,
`English` and `1` (the warm-up, not measured), then M more `1`s (the first choice of whatever
is on screen: lessons, quizzes, surveys), each waiting for the reply to its previous message
(and the webhook's 200) before sending the next, like a person; learners run concurrently.
A reply counts once the bot has marked that message read, if it marks messages read at all, so
the trailing part of a reply to the previous message is not taken for it.

Each measurement runs in processes of its own: a fresh driver (the fake Graph API and the
learners, one event loop) and, started by it, a fresh bot process. Rounds are interleaved
(bare, then LessonBot, again and again) so a slow moment of a shared machine hits both; the
medians are reported. The CPU each process used over the measured window is reported too: the
driver's shows whether the fake and the learners, not the bot, were the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import math
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The bot process imports LessonBot only if it is LessonBot: the bare webhook's process holds
# aiohttp alone, so it pays for no objects of ours (in imports, or the garbage collector).

TOKEN = "bench-token"
PHONE_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"
WABA_ID = "102290129340398"
APP_SECRET = "bench-app-secret"
VERIFY_TOKEN = "bench-verify-token"
GRAPH_VERSION = "v23.0"
WARM_UP = ("/start online-safety", "English", "1")
ANSWER = "1"  # the first choice of the prompt on screen, typed as its number
SYSTEMS = ("bare", "lessonbot")
LABELS = {"bare": "bare webhook", "lessonbot": "LessonBot"}


# -- the bots --------------------------------------------------------------------------------


def signature(body: bytes) -> str:
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


async def bare_webhook(api_url: str, port: int) -> None:
    """The baseline: verify the signature, answer each message with one text message."""
    graph = aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"})
    messages_url = f"{api_url}/{GRAPH_VERSION}/{PHONE_ID}/messages"

    async def handshake(request: web.Request) -> web.Response:
        if request.query.get("hub.verify_token") != VERIFY_TOKEN:
            return web.Response(status=403)
        return web.Response(text=request.query.get("hub.challenge", ""))

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        given = request.headers.get("X-Hub-Signature-256", "")
        if not hmac.compare_digest(given.encode(), signature(body).encode()):
            return web.Response(status=401)
        notification = json.loads(body)
        for entry in notification.get("entry") or ():
            for change in entry.get("changes") or ():
                for message in (change.get("value") or {}).get("messages") or ():
                    text = (message.get("text") or {}).get("body") or "?"
                    reply = {
                        "messaging_product": "whatsapp",
                        "recipient_type": "individual",
                        "to": message["from"],
                        "type": "text",
                        "text": {"body": text},
                    }
                    async with graph.post(messages_url, json=reply) as answer:
                        await answer.read()
                        answer.raise_for_status()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/whatsapp", handshake)
    app.router.add_post("/whatsapp", receive)
    runner = web.AppRunner(app)  # as LessonBot's server (bot/channels/server.py) sets it up
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await graph.close()


async def lessonbot(api_url: str, port: int, database_url: str) -> None:
    from bot.channels.runner import serve
    from bot.config import Settings

    settings = Settings(
        _env_file=None,
        bot_token="",
        webhook_url="",
        whatsapp_token=TOKEN,
        whatsapp_phone_number_id=PHONE_ID,
        whatsapp_app_secret=APP_SECRET,
        whatsapp_verify_token=VERIFY_TOKEN,
        whatsapp_api_url=api_url,
        whatsapp_templates=str(ROOT / "templates" / "whatsapp.yaml"),
        database_url=database_url,
        lessons_dir=str(ROOT / "lessons"),
        locales_dir=str(ROOT / "locales"),
        port=port,
    )
    await serve(settings)


async def serve_bot(system: str, api_url: str, port: int, database_url: str) -> None:
    """The bot process: run until SIGTERM, then stop cleanly."""
    logging.basicConfig(level=logging.WARNING)  # as `lessonbot run` without --verbose
    if system == "bare":
        task = asyncio.create_task(bare_webhook(api_url, port))
    else:
        task = asyncio.create_task(lessonbot(api_url, port, database_url))
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


# -- the driver: a fake Graph API and the learners --------------------------------------------


@dataclass
class Learner:
    wa_id: str
    name: str
    pending: str | None = None  # the wamid of the message waiting for its reply
    read: bool = False  # the bot marked `pending` read
    posted_at: float = 0.0
    replied: asyncio.Event = field(default_factory=asyncio.Event)
    replied_at: float = 0.0


class FastGraph(asyncio.Protocol):
    """A minimal Graph API on a bare asyncio protocol: answers sends and reads as the Cloud API
    does and keeps no log, so that it costs far less per call than the bots it serves.

    It speaks just enough HTTP/1.1 (keep-alive, Content-Length or chunked bodies), checks the
    token and the route, and answers with a message id (a send), `{"success": true}` (a read)
    or a media id (an upload); it validates nothing else (tests/fakewhatsapp.py does, at a
    cost per call that grows with the calls made, and keeps every call)."""

    def __init__(self) -> None:
        self.url = ""
        self.learners: dict[str, Learner] = {}
        self.by_wamid: dict[str, Learner] = {}
        self.sends = self.reads = self.uploads = 0
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _GraphConnection(self), "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    def counts(self) -> tuple[int, int, int]:
        return self.sends, self.reads, self.uploads

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return _graph_error(401, 190, "Invalid OAuth access token")
        parts = path.split("?", 1)[0].split("/")  # "", version, node, edge
        if len(parts) != 4 or parts[2] != PHONE_ID or parts[3] not in ("messages", "media"):
            return _graph_error(400, 100, "Unsupported post request")
        if parts[3] == "media":
            self.uploads += 1
            return 200, {"id": str(1_000_000_000_000 + next(self._ids))}
        message = json.loads(body)
        if message.get("status") == "read":
            self.reads += 1
            learner = self.by_wamid.get(str(message.get("message_id")))
            if learner is not None and learner.pending == message["message_id"]:
                learner.read = True
            return 200, {"success": True}
        self.sends += 1
        to = str(message.get("to"))
        learner = self.learners.get(to)
        # A send answers the pending message once the bot has marked it read (a bot that
        # never marks messages read: at once).
        if learner is not None and learner.pending and (learner.read or not self.reads):
            learner.pending = None
            learner.replied_at = time.perf_counter()
            learner.replied.set()
        wamid = "wamid." + base64.b64encode(f"out:{next(self._ids)}".encode()).decode()
        contacts = [{"input": to, "wa_id": to}]
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": contacts,
            "messages": [{"id": wamid}],
        }


class _GraphConnection(asyncio.Protocol):
    def __init__(self, graph: FastGraph) -> None:
        self.graph = graph
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (request := _take_request(self.buffer)) is not None:
            path, headers, body = request
            status, answer = self.graph.answer(path, headers, body)
            payload = json.dumps(answer).encode()
            assert self.transport is not None
            self.transport.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (status, b"OK" if status == 200 else b"Error", len(payload))
                + payload
            )


def _take_request(buffer: bytearray) -> tuple[str, dict[str, str], bytes] | None:
    """The first complete request in `buffer` (removed from it), or None for now."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    start = end + 4
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        at = start
        while True:
            line_end = buffer.find(b"\r\n", at)
            if line_end < 0:
                return None
            size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
            if len(buffer) < line_end + 2 + size + 2:
                return None
            body += buffer[line_end + 2 : line_end + 2 + size]
            at = line_end + 2 + size + 2
            if size == 0:
                break
        del buffer[:at]
        return path, headers, bytes(body)
    length = int(headers.get("content-length") or 0)
    if len(buffer) < start + length:
        return None
    body_bytes = bytes(buffer[start : start + length])
    del buffer[: start + length]
    return path, headers, body_bytes


def _graph_error(status: int, code: int, message: str) -> tuple[int, Any]:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "bench"}
    return status, {"error": error}


class Webhook:
    """One learner's keep-alive connection to the bot's webhook, as plain HTTP/1.1 on asyncio
    streams: much cheaper per request than aiohttp's client, so the driver stays light."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, body: bytes) -> int:
        if self._streams is None:
            self._streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self._streams
        head = (
            f"POST /whatsapp HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            "User-Agent: facebookexternalua\r\nContent-Type: application/json\r\n"
            f"X-Hub-Signature-256: {signature(body)}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        status = int((await reader.readline()).split()[1])
        length, chunked, close = 0, False, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value
            elif name == "connection":
                close = value == "close"
        if chunked:
            while size := int((await reader.readline()).split(b";")[0], 16):
                await reader.readexactly(size + 2)
            await reader.readline()
        else:
            await reader.readexactly(length)
        if close:
            await self.close()
        return status

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


def notification(learner: Learner, wamid: str, text: str) -> bytes:
    """A webhook body as Meta sends it: compact JSON, one text message."""
    message = {
        "from": learner.wa_id,
        "id": wamid,
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": PHONE_ID},
        "contacts": [{"profile": {"name": learner.name}, "wa_id": learner.wa_id}],
        "messages": [message],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process and all its threads (Linux), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(ordered: list[float], share: float) -> float:
    """Nearest rank."""
    return ordered[max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))]


async def measure(system: str, database: str, learners: int, messages: int) -> dict[str, Any]:
    graph = FastGraph()
    await graph.start()
    port = free_port()
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.whatsapp_webhook",
        "--serve",
        system,
        "--api-url",
        graph.url,
        "--port",
        str(port),
        "--database",
        database,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
    )
    ids = itertools.count(1)
    latencies: list[float] = []
    people = [Learner(f"6281{i:08d}", f"L{i}") for i in range(learners)]
    graph.learners = {p.wa_id: p for p in people}
    # One keep-alive connection per learner (Meta, too, posts over many at once).
    connections = {p.wa_id: Webhook(port) for p in people}
    try:
        await _until_up(port, bot)

        async def round_trip(learner: Learner, text: str) -> None:
            wamid = "wamid." + base64.b64encode(f"in:{next(ids)}:{PHONE_ID}".encode()).decode()
            body = notification(learner, wamid, text)
            graph.by_wamid[wamid] = learner
            learner.pending, learner.read = wamid, False
            learner.replied.clear()
            learner.posted_at = time.perf_counter()
            status = await connections[learner.wa_id].post(body)
            if status != 200:
                raise SystemExit(f"the {system} webhook answered {status}")
            try:
                await asyncio.wait_for(learner.replied.wait(), 30)
            except TimeoutError:
                code = bot.returncode
                raise SystemExit(
                    f"no reply to {learner.wa_id}'s {text!r} in 30 s from the {system} bot"
                    + (f" (it exited {code})" if code is not None else "")
                ) from None
            del graph.by_wamid[wamid]
            latencies.append(learner.replied_at - learner.posted_at)

        for text in WARM_UP:  # everyone starts the course: the measured answers are mid-way
            await asyncio.gather(*(round_trip(p, text) for p in people))
        await asyncio.sleep(0.5)  # the warm-up's trailing reply parts
        latencies.clear()
        before = graph.counts()
        bot_cpu, own_cpu = cpu_seconds(bot.pid), time.process_time()
        started = time.perf_counter()

        async def learner_loop(learner: Learner) -> None:
            for _ in range(messages):
                await round_trip(learner, ANSWER)

        await asyncio.gather(*(learner_loop(p) for p in people))
        elapsed = time.perf_counter() - started
        bot_used = cpu_seconds(bot.pid)
        own_used = time.process_time() - own_cpu
        after = graph.counts()
    finally:
        for connection in connections.values():
            await connection.close()
        if bot.returncode is None:
            bot.terminate()
            try:
                await asyncio.wait_for(bot.wait(), 15)
            except TimeoutError:
                bot.kill()
                await bot.wait()
        await graph.stop()
    sends, reads, uploads = (a - b for a, b in zip(after, before, strict=True))
    ordered = sorted(latencies)
    return {
        "updates": len(latencies),
        "updates_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "bot_cpu": (bot_used - bot_cpu) / elapsed if bot_used and bot_cpu is not None else None,
        "driver_cpu": own_used / elapsed,
        "graph_calls_per_update": (sends + reads + uploads) / len(latencies),
        "sends_per_update": sends / len(latencies),
    }


async def _until_up(port: int, bot: asyncio.subprocess.Process) -> None:
    """Wait for the webhook to answer Meta's subscription handshake."""
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "up"}
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if bot.returncode is not None:
                raise SystemExit(f"the bot exited {bot.returncode} before its webhook came up")
            with contextlib.suppress(aiohttp.ClientError):
                url = f"http://127.0.0.1:{port}/whatsapp"
                async with http.get(url, params=params) as answer:
                    if answer.status == 200 and await answer.text() == "up":
                        return
            await asyncio.sleep(0.05)
    raise SystemExit("the bot's webhook did not come up in 60 s")


# -- the rounds ------------------------------------------------------------------------------


async def isolated(system: str, database: str, learners: int, messages: int) -> dict[str, Any]:
    """One measurement, in a fresh driver process that starts a fresh bot process."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.whatsapp_webhook",
        "--one",
        system,
        "--database",
        database,
        "--learners",
        str(learners),
        "--messages",
        str(messages),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"the {system} measurement failed (exit {child.returncode})")
    result: dict[str, Any] = json.loads(out.decode().splitlines()[-1])
    return result


def _cpu(value: float | None) -> str:
    return "?" if value is None else f"{value * 100:.0f}%"


def report(args: argparse.Namespace, runs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    backend = "PostgreSQL" if args.postgres else "SQLite"
    total = args.learners * args.messages
    print()
    print(
        f"WhatsApp webhook path: {total} updates ({args.learners} learners x {args.messages} "
        f"answers, after {len(WARM_UP)} warm-up messages each), {backend}, loopback fake Graph "
        f"API; median of {len(runs)} interleaved rounds"
    )
    print(
        "done = the reply reached the fake; latency = webhook POST sent to reply received; "
        "bare webhook: signature + one text reply, stores nothing"
    )
    header = (
        f"{'system':<14}{'updates/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs bare':>9}"
        f"{'p50 vs':>8}{'p99 vs':>8}{'bot CPU':>9}{'driver CPU':>12}{'Graph calls/upd':>17}"
    )
    print(header)
    for index, system in enumerate(SYSTEMS):
        results = [run[index] for run in runs]

        def median(key: str, results: list[dict[str, Any]] = results) -> float:
            return float(statistics.median(r[key] for r in results))

        def cpu(key: str, results: list[dict[str, Any]] = results) -> float | None:
            values = [r[key] for r in results if r[key] is not None]
            return statistics.median(values) if values else None

        ratios = ["", "", ""]
        if system == "lessonbot":
            ratios = [f"{median(k):.2f}" for k in ("ratio", "p50_ratio", "p99_ratio")]
        print(
            f"{LABELS[system]:<14}{median('updates_per_s'):>10.0f}{median('p50_ms'):>9.1f}"
            f"{median('p99_ms'):>9.1f}{ratios[0]:>9}{ratios[1]:>8}{ratios[2]:>8}"
            f"{_cpu(cpu('bot_cpu')):>9}{_cpu(cpu('driver_cpu')):>12}"
            f"{median('graph_calls_per_update'):>17.2f}"
        )
    ours = [run[1] for run in runs]
    print("ratio LessonBot/bare per round: " + ", ".join(f"{r['ratio']:.2f}" for r in ours))
    print("p99 ratio per round: " + ", ".join(f"{r['p99_ratio']:.2f}" for r in ours))
    print(f"median ratio LessonBot/bare: {statistics.median(r['ratio'] for r in ours):.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument("--messages", type=int, default=20, help="measured answers per learner")
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="interleaved rounds (bare, then LessonBot); medians are reported",
    )
    parser.add_argument(
        "--postgres",
        default="",
        metavar="URL",
        help="a PostgreSQL server to create a scratch database on "
        "(postgresql+asyncpg://...); SQLite without it",
    )
    # The driver process's side of `isolated`, and the bot process's side of `measure`.
    parser.add_argument("--one", default="", choices=("", *SYSTEMS), help=argparse.SUPPRESS)
    parser.add_argument("--serve", default="", choices=("", *SYSTEMS), help=argparse.SUPPRESS)
    parser.add_argument("--database", default="", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        await serve_bot(args.serve, args.api_url, args.port, args.database)
        return
    if args.one:
        result = await measure(args.one, args.database, args.learners, args.messages)
        print(json.dumps(result))
        return

    from tests.databases import fresh_database

    runs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(1, args.rounds + 1):
            base = await isolated("bare", "", args.learners, args.messages)
            folder = Path(tmp) / f"round-{number}"
            folder.mkdir()
            async with fresh_database(folder, args.postgres) as url:
                ours = await isolated("lessonbot", url, args.learners, args.messages)
            ours["ratio"] = ours["updates_per_s"] / base["updates_per_s"]
            ours["p50_ratio"] = ours["p50_ms"] / base["p50_ms"]
            ours["p99_ratio"] = ours["p99_ms"] / base["p99_ms"]
            runs.append((base, ours))
            print(
                f"round {number}: bare {base['updates_per_s']:.0f}/s "
                f"(p50 {base['p50_ms']:.1f} ms, p99 {base['p99_ms']:.1f} ms), LessonBot "
                f"{ours['updates_per_s']:.0f}/s (p50 {ours['p50_ms']:.1f} ms, p99 "
                f"{ours['p99_ms']:.1f} ms): ratio {ours['ratio']:.2f}, p99 ratio "
                f"{ours['p99_ratio']:.2f}",
                flush=True,
            )
    report(args, runs)


if __name__ == "__main__":
    asyncio.run(main())
