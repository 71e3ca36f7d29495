"""Load: thousands of learners through a real `lessonbot run` process and the fake Bot API.

    python -m bench.load [--learners 10000] [--parallel 200] [--postgres URL]

Each learner opens a deep link, picks English, declines the profile questions, gets the first
step of a lesson ("Hi <their name>!") and taps on twice. Checked at the end:
- no cross-learner leakage: every greeting a chat received names that chat's own learner;
- no lost update: every update got its reply, and each learner's saved step in the database is
  the one their taps lead to;
- memory stays flat: the bot process's resident memory (VmRSS) after each tenth of the
  learners, first against last.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.databases import fresh_database, rows  # noqa: E402
from tests.fakebotapi import Call, FakeBotAPI  # noqa: E402

TOKEN = "123456:LOAD"
BASE = 700_000  # learner ids
SCRIPT = ("/start online-safety", "English", "No, just the lessons", "1", "1")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--parallel", type=int, default=200)
    parser.add_argument("--postgres", default="", metavar="URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            fresh_database(Path(tmp), args.postgres) as url,
            FakeBotAPI(max_poll_wait=0.05) as fake,
        ):
            replies: dict[int, asyncio.Event] = {}

            def on_call(call: Call) -> None:
                # An answer ends with the message that carries buttons (every step has some);
                # waiting for it, not the first reply, keeps each learner's taps in sequence.
                if (
                    call.method == "sendMessage"
                    and call.status == 200
                    and call.params.get("reply_markup")
                ):
                    event = replies.get(int(call.params["chat_id"]))
                    if event is not None:
                        event.set()

            fake.listeners.append(on_call)
            env = {
                **os.environ,
                "BOT_TOKEN": TOKEN,
                "TELEGRAM_API_URL": fake.url,
                "DATABASE_URL": url,
                "LESSONS_DIR": str(ROOT / "lessons"),
                "LOCALES_DIR": str(ROOT / "locales"),
                "WEBHOOK_URL": "",
            }
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", "--no-worker", env=env, cwd=tmp
            )
            while not fake.calls_of("getUpdates"):
                await asyncio.sleep(0.02)

            lost = 0

            async def learner(user: int) -> None:
                nonlocal lost
                for text in SCRIPT:
                    event = replies[user] = asyncio.Event()
                    fake.push_text(user, text, first_name=f"L{user}")
                    try:
                        await asyncio.wait_for(event.wait(), 60)
                    except TimeoutError:
                        lost += 1

            samples: list[tuple[int, int]] = []
            started = time.perf_counter()
            users = [BASE + i for i in range(args.learners)]
            tenth = max(1, args.learners // 10)
            for first in range(0, len(users), tenth):
                group = users[first : first + tenth]
                for i in range(0, len(group), args.parallel):
                    await asyncio.gather(*(learner(u) for u in group[i : i + args.parallel]))
                samples.append((first + len(group), rss_kib(proc.pid)))
            elapsed = time.perf_counter() - started
            await asyncio.sleep(1)
            proc.terminate()
            await proc.wait()

            greeting = re.compile(r"Hi (L\d+)!")
            leaks = 0
            for call in fake.sent_messages():
                found = greeting.search(call.params.get("text", ""))
                if found and found.group(1) != f"L{call.params['chat_id']}":
                    leaks += 1
            saved = await rows(url, "SELECT external_id, state FROM learners")
            steps = {}
            for external_id, state in saved:
                state = state if isinstance(state, dict) else json.loads(state)
                steps[external_id] = (state.get("position") or {}).get("step")
            expected = {s for s in steps.values()}
    updates = args.learners * len(SCRIPT)
    print(
        f"{args.learners:,} learners, {updates:,} updates in {elapsed:.0f} s "
        f"({updates / elapsed:.0f} updates/s), "
        f"{'PostgreSQL' if args.postgres else 'SQLite'}"
    )
    print(
        f"cross-learner leaks: {leaks}; updates without a reply: {lost}; "
        f"learners saved: {len(steps):,}; steps they are on: {sorted(map(str, expected))}"
    )
    print(
        "bot process VmRSS after n learners: "
        + ", ".join(f"{n:,}: {kib / 1024:.0f} MiB" for n, kib in samples)
    )
    print(f"memory, last against first sample: {samples[-1][1] / samples[0][1]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
