"""Update throughput and latency: LessonBot against a bare echo bot of the same framework.

    python -m bench.telegram_throughput [--learners 50] [--updates 1000] [--rounds 5]
        [--frameworks aiogram,ptb] [--postgres URL]

Both bots poll the same kind of loopback fake Bot API in the same run, in interleaved rounds
(echo, then LessonBot, per framework, again and again), so a slow moment of a shared machine
hits both; the medians are reported. Each measurement runs in a fresh Python process with its
own fake, so nothing one bot does to the process (LessonBot pins aiogram's response types and
freezes its start-up objects out of the garbage collector) carries over to the other's later
rounds. Each simulated learner is
mid-lesson and sends its next answer as soon as the bot's first reply to the previous one
arrives (a closed loop, like a person tapping through a lesson). LessonBot persists every step
in a real SQLite file; the echo bot stores nothing. Reported: updates/s, p50/p99 latency from
update to first reply, and LessonBot's throughput as a ratio of the echo bot's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.channels.runner import serve  # noqa: E402
from bot.config import Settings  # noqa: E402
from tests.databases import fresh_database  # noqa: E402
from tests.fakebotapi import Call, FakeBotAPI  # noqa: E402

TOKEN = "123456:BENCH"


async def aiogram_echo(api_url: str) -> None:
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message

    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False))
    try:
        await asyncio.shield(polling)
    finally:
        # A cancelled start_polling leaves aiogram's polling loop running; stop it properly,
        # or it keeps retrying a fake that is gone and slows the rounds after it.
        with contextlib.suppress(RuntimeError):
            await dp.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await bot.session.close()


async def ptb_echo(api_url: str) -> None:
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    async def echo(update: Update, _ctx: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(update.message.text or "?")

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{api_url}/bot")
        .concurrent_updates(True)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0)
        try:
            await asyncio.Event().wait()
        finally:
            await app.updater.stop()
            await app.stop()


def lessonbot(framework: str, database_url: str) -> Callable[[str], Awaitable[None]]:
    async def run(api_url: str) -> None:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            bot_token=TOKEN,
            telegram_api_url=api_url,
            telegram_framework=framework,
            database_url=database_url,
            lessons_dir=str(ROOT / "lessons"),
            locales_dir=str(ROOT / "locales"),
            webhook_url="",
        )
        await serve(settings)

    return run


async def measure(
    bot: Callable[[str], Awaitable[None]], learners: int, updates: int
) -> dict[str, float]:
    async with FakeBotAPI(max_poll_wait=0.05) as fake:
        replied: dict[int, asyncio.Event] = {}

        def on_call(call: Call) -> None:
            if call.method == "sendMessage" and call.status == 200:
                event = replied.get(int(call.params["chat_id"]))
                if event is not None:
                    event.set()

        fake.listeners.append(on_call)
        task = asyncio.create_task(bot(fake.url))
        latencies: list[float] = []

        async def round_trip(user: int, text: str) -> None:
            event = replied[user] = asyncio.Event()
            started = time.perf_counter()
            fake.push_text(user, text, first_name=f"L{user}")
            await asyncio.wait_for(event.wait(), 30)
            latencies.append(time.perf_counter() - started)

        async def learner(user: int, count: int) -> None:
            for _ in range(count):
                await round_trip(user, "1")  # "1" presses the first button, like a tap

        users = [10_000 + i for i in range(learners)]
        # Warm up: everyone starts a course, so the measured updates are mid-lesson. (The echo
        # bot just echoes these.)
        for text in ("/start online-safety", "English", "No, just the lessons"):
            await asyncio.gather(*(round_trip(u, text) for u in users))
        await asyncio.sleep(0.5)  # let the warm-up's trailing messages finish
        latencies.clear()
        per = updates // learners
        started = time.perf_counter()
        await asyncio.gather(*(learner(u, per) for u in users))
        elapsed = time.perf_counter() - started
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    ordered = sorted(latencies)
    return {
        "updates_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
    }


BOTS = {"echo": {"aiogram": aiogram_echo, "ptb": ptb_echo}}


async def isolated(bot: str, framework: str, database: str, learners: int, updates: int) -> Any:
    """One measurement in a child process of its own (see the module's docstring)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.telegram_throughput",
        "--one",
        f"{bot}:{framework}",
        "--database",
        database,
        "--learners",
        str(learners),
        "--updates",
        str(updates),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"the {bot} bot on {framework} failed (exit {child.returncode})")
    return json.loads(out.decode().splitlines()[-1])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="interleaved rounds (echo, LessonBot, for each framework); medians are reported",
    )
    parser.add_argument("--frameworks", default="aiogram,ptb", help="comma-separated: aiogram, ptb")
    parser.add_argument(
        "--postgres",
        default="",
        metavar="URL",
        help="a PostgreSQL server to create a scratch database on "
        "(postgresql+asyncpg://...); SQLite without it",
    )
    # The child process's side of `isolated`.
    parser.add_argument("--one", default="", help=argparse.SUPPRESS)
    parser.add_argument("--database", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        bot, framework = args.one.split(":")
        run = BOTS["echo"][framework] if bot == "echo" else lessonbot(framework, args.database)
        print(json.dumps(await measure(run, args.learners, args.updates)))
        return
    frameworks = args.frameworks.split(",")
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_number in range(args.rounds):
            for framework in frameworks:
                base = await isolated("echo", framework, "", args.learners, args.updates)
                folder = Path(tmp) / f"{framework}-{round_number}"
                folder.mkdir()
                async with fresh_database(folder, args.postgres) as url:
                    ours = await isolated("lessonbot", framework, url, args.learners, args.updates)
                ours["ratio"] = ours["updates_per_s"] / base["updates_per_s"]
                ours["p99_ratio"] = ours["p99_ms"] / base["p99_ms"]
                results.setdefault(f"{framework} bare echo", []).append(base)
                results.setdefault(f"{framework} LessonBot", []).append(ours)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{args.updates} updates from {args.learners} learners, {backend}, loopback fake Bot "
        f"API; median of {args.rounds} interleaved rounds"
    )
    print(f"{'bot':<22}{'updates/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'vs echo':>9}{'p99 vs':>8}")
    for name, runs in results.items():

        def median(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        ratio = f"{median('ratio'):.2f}" if "ratio" in runs[0] else ""
        p99 = f"{median('p99_ratio'):.2f}" if "p99_ratio" in runs[0] else ""
        print(
            f"{name:<22}{median('updates_per_s'):>11.0f}{median('p50_ms'):>9.1f}"
            f"{median('p99_ms'):>9.1f}{ratio:>9}{p99:>8}"
        )
        if ratio:
            print(f"{'':<22}ratio per round: " + ", ".join(f"{r['ratio']:.2f}" for r in runs))


if __name__ == "__main__":
    asyncio.run(main())
