"""Scale: cold starts, linting 1,000 lessons, and a 250,000-learner database (report query
time, segment selection, the bot's memory at that size). Each figure has a baseline from the
same run.

    python -m bench.scale [--learners 250000] [--postgres URL]

- Cold start of `lint`, `chat` and `run`, against `python -c pass` (the interpreter alone);
  for `run`, also against importing aiogram alone, which a bare aiogram bot pays too.
- `lint` of 1,000 lessons (the shipped lessons copied into many courses), against `lint` of
  the 17 shipped ones: the ratio says whether time grows with the number of lessons or worse.
- `lessonbot demo-data` fills the database; then `lessonbot report`, and the broadcast
  audience query for a segment, against a plain `SELECT count(*)` over the learners.
- The memory of `lessonbot run` (max RSS) serving the same 300 updates on the full database
  and on an empty one: the ratio says whether memory grows with the number of learners.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from bot.broadcast.message import Segment  # noqa: E402
from bot.broadcast.outbox import Outbox  # noqa: E402
from bot.content import load_library  # noqa: E402
from bot.store import create_engine  # noqa: E402
from tests.databases import fresh_database  # noqa: E402
from tests.fakebotapi import FakeBotAPI  # noqa: E402

TOKEN = "123456:BENCH"


def timed(args: list[str], env: dict[str, str], stdin: str = "") -> float:
    started = time.perf_counter()
    subprocess.run(
        args,
        env={**os.environ, **env},
        input=stdin,
        text=True,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    return time.perf_counter() - started


def best(runs: int, args: list[str], env: dict[str, str], stdin: str = "") -> float:
    return min(timed(args, env, stdin) for _ in range(runs))


LESSONBOT = [sys.executable, "-m", "bot"]


async def cold_run(env: dict[str, str]) -> float:
    """Seconds from starting `lessonbot run` to its first getUpdates call."""
    async with FakeBotAPI(max_poll_wait=0.2) as fake:
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *LESSONBOT,
            "run",
            env={**os.environ, **env, "TELEGRAM_API_URL": fake.url},
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        while not fake.calls_of("getUpdates"):
            await asyncio.sleep(0.005)
        took = time.perf_counter() - started
        proc.terminate()
        await proc.wait()
    return took


def thousand_lessons(root: Path) -> Path:
    """The shipped courses copied until there are 1,000 lessons, each course renamed."""
    target = root / "lessons"
    count, n = 0, 0
    while count < 1000:
        for course in ("digital-marketing", "online-safety", "relief"):
            folder = target / f"{course}-{n}"
            shutil.copytree(ROOT / "lessons" / course, folder)
            meta = yaml.safe_load((folder / "course.yaml").read_text())
            text_ = (
                (folder / "course.yaml")
                .read_text()
                .replace(f"id: {meta['id']}", f"id: {meta['id']}-{n}", 1)
            )
            (folder / "course.yaml").write_text(text_)
            count += len(meta["lessons"])
        n += 1
    return target


async def run_memory(env: dict[str, str], updates: int) -> int:
    """Max RSS (KiB) of a `lessonbot run` child that served `updates` updates."""
    async with FakeBotAPI(max_poll_wait=0.05) as fake:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import resource, runpy, sys, atexit\n"
            "atexit.register(lambda: print('RSS', resource.getrusage(resource.RUSAGE_SELF)"
            ".ru_maxrss, file=sys.stderr))\n"
            "sys.argv = ['lessonbot', 'run']\n"
            "runpy.run_module('bot', run_name='__main__')\n",
            env={**os.environ, **env, "TELEGRAM_API_URL": fake.url},
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        while not fake.calls_of("getUpdates"):
            await asyncio.sleep(0.01)
        for i in range(updates):
            fake.push_text(
                50_000 + i % 100,
                ("/start online-safety", "English", "No, just the lessons", "1", "1")[i // 100 % 5],
            )
        while len(fake.sent_messages()) < updates * 0.9:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1)
        proc.terminate()
        _, err = await proc.communicate()
    line = next(ln for ln in err.decode().splitlines() if ln.startswith("RSS "))
    return int(line.split()[1])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=250_000)
    parser.add_argument("--postgres", default="", metavar="URL")
    args = parser.parse_args()
    base_env = {
        "BOT_TOKEN": TOKEN,
        "LESSONS_DIR": str(ROOT / "lessons"),
        "LOCALES_DIR": str(ROOT / "locales"),
        "WEBHOOK_URL": "",
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = {**base_env, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/cold.db"}
        python = best(5, [sys.executable, "-c", "pass"], env)
        print("cold start (best of 5)            seconds   vs python -c pass")
        for name, took in (
            ("python -c pass", python),
            ("lessonbot lint lessons", best(5, [*LESSONBOT, "lint", "lessons"], env)),
            (
                "lessonbot chat (then /quit)",
                best(5, [*LESSONBOT, "chat", "--lang", "en"], env, "/quit\n"),
            ),
            ("python -c 'import aiogram'", best(3, [sys.executable, "-c", "import aiogram"], env)),
            ("lessonbot run (to first poll)", min([await cold_run(env) for _ in range(3)])),
        ):
            print(f"  {name:<32}{took:>8.2f}{took / python:>10.1f}x")

        shipped = best(3, [*LESSONBOT, "lint", str(ROOT / "lessons")], env)
        many = thousand_lessons(tmp)
        lessons = len(list(many.glob("*/0*.yaml")))
        big = best(3, [*LESSONBOT, "lint", str(many)], env)
        per_shipped, per_big = shipped / 17, big / lessons
        print(
            f"\nlint: 17 lessons {shipped:.2f} s, {lessons} lessons {big:.2f} s; "
            f"per lesson {per_big * 1000:.1f} ms vs {per_shipped * 1000:.1f} ms "
            f"(ratio {per_big / per_shipped:.2f})"
        )

        (tmp / "empty").mkdir()
        async with fresh_database(tmp / "empty", args.postgres) as url:
            empty_rss = await run_memory({**base_env, "DATABASE_URL": url}, 300)
        async with fresh_database(tmp, args.postgres) as url:
            env = {**base_env, "DATABASE_URL": url}
            backend = "PostgreSQL" if args.postgres else "SQLite"
            made = timed([*LESSONBOT, "demo-data", "--learners", str(args.learners)], env)
            print(f"\n{backend}, {args.learners:,} demo learners (made in {made:.0f} s)")
            full_rss = await run_memory(env, 300)
            print(
                f"  lessonbot run, max RSS after 300 updates: {full_rss / 1024:.0f} MiB "
                f"vs {empty_rss / 1024:.0f} MiB on an empty database "
                f"(ratio {full_rss / empty_rss:.2f})"
            )
            report = timed([*LESSONBOT, "report", "--out", str(tmp / "report")], env)
            engine = create_engine(url)
            library, _ = load_library(ROOT / "lessons")
            async with engine.connect() as conn:
                started = time.perf_counter()
                total = (
                    await conn.execute(select(func.count()).select_from(text("learners")))
                ).scalar()
                count_all = time.perf_counter() - started
                started = time.perf_counter()
                segment = Segment(
                    country=("TH", "VN"),
                    locale=("th", "vi", "en"),
                    completed="online-safety",
                    active_within_days=90,
                )
                # demo learners are on the "demo" channel, so select among them
                audience = Outbox(engine, "demo").audience(segment, library, datetime.now(UTC))
                picked = (
                    await conn.execute(select(func.count()).select_from(audience.subquery()))
                ).scalar()
                segment_time = time.perf_counter() - started
            await engine.dispose()
            print(f"  lessonbot report: {report:.1f} s")
            print(
                f"  segment (TH/VN, 3 languages, finished online-safety, active 90 days): "
                f"{picked:,} of {total:,} in {segment_time * 1000:.0f} ms vs "
                f"count(*) {count_all * 1000:.0f} ms "
                f"(ratio {segment_time / max(count_all, 1e-6):.1f})"
            )
    print(
        f"\nthis process's max RSS: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    asyncio.run(main())
