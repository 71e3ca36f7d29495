"""Broadcast benchmark: queuing 250,000 recipients, send rate, throttling accuracy, memory.

    python -m bench.broadcast [--learners 250000] [--send 5000]

- Queue: `Outbox.create` for every learner (one INSERT ... SELECT) into a real SQLite file.
- Unthrottled send: the LessonBot sender (aiogram, outbox bookkeeping: every result recorded
  as it completes, group-committed) against the loopback fake Bot API, as a ratio to a bare
  aiohttp loop posting the same messages to the same fake, measured in the same run.
- Throttled: the achieved rate at BROADCAST_RATE 30 and 1000, against the setting, with the
  pool of send workers each rate gets (the most messages a SIGKILL can duplicate).
- Peak memory: the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, insert, update  # noqa: E402

from bot.broadcast.message import BroadcastFile, Segment  # noqa: E402
from bot.broadcast.outbox import Outbox  # noqa: E402
from bot.broadcast.sender import Sender, pool_size  # noqa: E402
from bot.channels.telegram.runner import open_deliverer  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.content import load_library  # noqa: E402
from bot.content.text import render  # noqa: E402
from bot.store import create_engine, upgrade  # noqa: E402
from bot.store.models import Broadcast, Learner, OutboxRow  # noqa: E402
from tests.fakebotapi import FakeBotAPI  # noqa: E402

TOKEN = "123456:BENCH"
NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # midday across the region: no quiet hours
MESSAGE = BroadcastFile.model_validate(
    {
        "version": 1,
        "kind": "broadcast",
        "id": "bench",
        "urgent": True,
        "text": {
            "en": "Scam alert, {first_name}: never pay a fee to apply for a grant.",
            "th": "ระวัง {first_name}: ไม่มีค่าธรรมเนียมในการสมัครขอรับเงินช่วยเหลือ",
        },
    }
)


async def seed(engine: object, count: int) -> None:
    assert hasattr(engine, "begin")
    naive = NOW.replace(tzinfo=None)
    chunk = 10_000
    for start in range(0, count, chunk):
        rows = [
            {
                "channel": "telegram",
                "external_id": str(10_000_000 + i),
                "first_name": "L",
                "locale": "th" if i % 3 else "en",
                "country": "TH",
                "status": "active",
                "state": {},
                "tags": [],
                "created_at": naive,
                "last_active_at": naive,
            }
            for i in range(start, min(count, start + chunk))
        ]
        async with engine.begin() as conn:
            await conn.execute(insert(Learner), rows)


async def bare_loop(url: str, messages: list[tuple[int, str]], concurrency: int) -> float:
    """The baseline: post each sendMessage, nothing else. Returns messages/s."""
    semaphore = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as http:

        async def one(chat: int, text: str) -> None:
            body = {"chat_id": chat, "text": text, "parse_mode": "HTML"}
            async with (
                semaphore,
                http.post(f"{url}/bot{TOKEN}/sendMessage", json=body) as response,
            ):
                await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(one(chat, text) for chat, text in messages))
        return len(messages) / (time.perf_counter() - started)


def same_messages(count: int) -> list[tuple[int, str]]:
    """What the sender sends to the first `count` learners `seed` made."""
    return [
        (
            10_000_000 + i,
            render(MESSAGE.text_for("th" if i % 3 else "en"), {"first_name": "L"}).strip(),
        )
        for i in range(count)
    ]


async def send_rate(
    outbox: Outbox, settings: Settings, library: object, count: int, rate: float
) -> float:
    """Queue `count` recipients and send them at `rate`; return the achieved messages/s."""
    async with outbox.engine.begin() as conn:
        await conn.execute(delete(OutboxRow))
        await conn.execute(update(Broadcast).values(status="done"))
    broadcast_id = await outbox.create(MESSAGE, Segment(), library, actor="bench", now=NOW)
    first = await _first_row(outbox, broadcast_id)
    async with outbox.engine.begin() as conn:  # keep only `count` recipients pending
        await conn.execute(
            update(OutboxRow)
            .where(
                OutboxRow.broadcast_id == broadcast_id,
                OutboxRow.id >= first + count,
            )
            .values(status="skipped")
        )
    async with outbox.engine.connect() as conn:  # the set-up's writes: out of the WAL now
        raw = await conn.get_raw_connection()  # outside a transaction, as the pragma needs
        await raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    async with open_deliverer(settings) as deliverer:
        sender = Sender(
            outbox,
            deliverer,
            library,
            rate=rate,  # type: ignore[arg-type]
            clock=lambda: NOW,
        )
        started = time.perf_counter()
        await sender.run(broadcast_id)
        elapsed = time.perf_counter() - started
    sent = (await outbox.counts(broadcast_id))["sent"]
    return sent / elapsed


async def _first_row(outbox: Outbox, broadcast_id: int) -> int:
    from sqlalchemy import func, select

    async with outbox.engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    select(func.min(OutboxRow.id)).where(OutboxRow.broadcast_id == broadcast_id)
                )
            ).scalar_one()
        )


async def claim_time(outbox: Outbox, broadcast_id: int, rows: int = 100) -> float:
    """Median milliseconds of claiming `rows` due rows of a big broadcast (then let go)."""
    took = []
    for _ in range(5):
        started = time.perf_counter()
        claimed = await outbox.claim(NOW, rows, "bench", broadcast_id)
        took.append(1000 * (time.perf_counter() - started))
        assert len(claimed) == rows
        await outbox.leave("bench", [row.row_id for row in claimed])
    return statistics.median(took)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=250_000)
    parser.add_argument("--send", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved unthrottled rounds")
    args = parser.parse_args()
    library, _ = load_library(ROOT / "lessons")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        engine = create_engine(url)
        await upgrade(engine)
        await seed(engine, args.learners)
        outbox = Outbox(engine)
        started = time.perf_counter()
        broadcast_id = await outbox.create(MESSAGE, Segment(), library, actor="bench", now=NOW)
        queue_seconds = time.perf_counter() - started
        queued = sum((await outbox.counts(broadcast_id)).values())
        print(
            f"queue: {queued} recipients in {queue_seconds:.2f} s ({queued / queue_seconds:,.0f}/s)"
        )
        print(f"claim: 100 due rows of {queued} in {await claim_time(outbox, broadcast_id):.1f} ms")
        async with FakeBotAPI() as fake:
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None, bot_token=TOKEN, telegram_api_url=fake.url, database_url=url
            )
            messages = same_messages(args.send)
            ratios = []
            for _ in range(args.rounds):  # interleaved, so both see the same machine
                bare = await bare_loop(fake.url, messages, concurrency=500)
                ours = await send_rate(outbox, settings, library, args.send, rate=1_000_000)
                ratios.append(ours / bare)
                print(
                    f"unthrottled: bare aiohttp {bare:,.0f}/s, LessonBot sender {ours:,.0f}/s, "
                    f"ratio {ours / bare:.2f}, {pool_size(1_000_000)} send workers"
                )
            print(f"unthrottled ratio, median of {args.rounds}: {statistics.median(ratios):.2f}")
            for rate, count in ((30.0, 300), (1000.0, 5000)):
                achieved = await send_rate(outbox, settings, library, min(count, args.send), rate)
                print(
                    f"throttled to {rate:.0f}/s: achieved {achieved:,.1f}/s "
                    f"({100 * (achieved - rate) / rate:+.1f}%), {pool_size(rate)} send worker(s)"
                )
        await engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:,.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
