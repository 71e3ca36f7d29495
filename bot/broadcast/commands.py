"""`lessonbot broadcast ...` and the sending half of `lessonbot worker`."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from bot.broadcast.message import (
    BroadcastFile,
    MediaError,
    Schedule,
    Segment,
    load_broadcast,
    media_file,
)
from bot.broadcast.outbox import Outbox
from bot.broadcast.sender import Sender, Tally, configured_sender
from bot.config import Settings
from bot.content import Library, load_library
from bot.errors import ConfigError, LessonBotError
from bot.store.admin_commands import cli_actor


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Broadcasting:
    outbox: Outbox
    library: Library
    sender: Sender | None  # None when no Telegram is needed (dry runs, reports)


@asynccontextmanager
async def broadcasting(settings: Settings, *, telegram: bool) -> AsyncIterator[Broadcasting]:
    """The outbox, and with `telegram` a sender connected to the Bot API."""
    from bot.app import open_database

    engine = await open_database(settings)
    library, _ = load_library(settings.lessons_dir)
    outbox = Outbox(engine)
    try:
        if not telegram:
            yield Broadcasting(outbox, library, None)
            return
        from bot.channels.telegram.runner import open_deliverer

        async with open_deliverer(settings) as deliverer:
            yield Broadcasting(
                outbox, library, configured_sender(settings, outbox, deliverer, library)
            )
    finally:
        await engine.dispose()


def parse_segment(base: Segment, pairs: list[str]) -> Segment:
    """`--segment country=TH --segment locale=th,en` on top of the file's segment."""
    data: dict[str, Any] = base.model_dump()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in Segment.model_fields:
            raise ConfigError(
                f"--segment {pair!r}: use KEY=VALUE with KEY one of "
                f"{', '.join(Segment.model_fields)}"
            )
        listed = key in ("locale", "country", "tags")
        data[key] = [v.strip() for v in value.split(",") if v.strip()] if listed else value
    try:
        return Segment.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"bad --segment: {exc}") from exc


def parse_at(text: str) -> Schedule:
    """`--at 2026-12-01T09:00+07:00` (one moment) or `--at 09:00` (each learner's own 9am)."""
    try:
        if len(text) <= 5:
            return Schedule(local_time=time.fromisoformat(text))
        return Schedule.model_validate({"at": datetime.fromisoformat(text)})
    except ValueError as exc:
        raise ConfigError(
            f"--at {text!r}: give HH:MM (learners' local time) or an ISO time "
            f"with its offset, like 2026-12-01T09:00+07:00 ({exc})"
        ) from exc


def read_file(path: Path, library: Library) -> BroadcastFile:
    message, problems = load_broadcast(path, library)
    for problem in problems:
        print(problem, file=sys.stderr)
    if message is None:
        raise LessonBotError(f"{path} has errors; fix them (lessonbot lint {path}) and retry")
    if message.media:
        # Resolved now (the worker may run somewhere with another cwd), and confined again as
        # it is resolved: what is queued is the photo inside the broadcast's folder, links
        # followed, never a file elsewhere that a link or `../` leads to.
        try:
            photo = media_file(path.parent, message.media)
        except MediaError as exc:
            raise LessonBotError(f"{path}: {exc}; nothing was sent") from exc
        message = message.model_copy(update={"media": str(photo)})
    return message


async def send(
    settings: Settings,
    path: Path,
    segments: list[str],
    at: str | None,
    dry_run: bool,
    yes: bool,
    out: TextIO = sys.stdout,
) -> int:
    async with broadcasting(settings, telegram=not dry_run) as b:
        message = read_file(path, b.library)
        if at:
            message = message.model_copy(update={"schedule": parse_at(at)})
        segment = parse_segment(message.segment, segments)
        audience = await b.outbox.count_by_locale(segment, b.library, now())
        total = sum(audience.values())
        out.write(f"{message.id}: {total} learner(s)\n")
        for locale, count in sorted(audience.items()):
            shown = (
                locale if locale in message.text else f"{locale} (gets {message.fallback_locale})"
            )
            out.write(f"  {shown}: {count}\n")
        if dry_run or total == 0:
            return 0
        if not yes and not _confirm(f"Send to {total} learner(s)? [y/N] "):
            out.write("Not sent.\n")
            return 1
        assert b.sender is not None
        broadcast_id = await b.outbox.create(
            message, segment, b.library, actor=cli_actor(), now=now()
        )
        out.write(f"queued as broadcast {broadcast_id}\n")
        if message.schedule:
            when = message.schedule.at or f"{message.schedule.local_time} local time"
            out.write(f"scheduled for {when}; `lessonbot worker` (or `run`) sends it then\n")
            return 0
        return await _deliver(b, broadcast_id, total, out)


async def resume(settings: Settings, broadcast_id: int | None, out: TextIO = sys.stdout) -> int:
    """Continue sending. The rows a dead sender held are taken over at once (its process is
    gone, or its heartbeat a few seconds old); those whose send was in flight when it died are
    the documented window for duplicates (see bot/broadcast/sender.py). Rows a live sender
    holds stay with it."""
    async with broadcasting(settings, telegram=True) as b:
        await b.outbox.reclaim(broadcast_id)
        await b.outbox.audit(cli_actor(), "broadcast.resume", {"broadcast": broadcast_id}, now())
        ids = (
            [broadcast_id]
            if broadcast_id
            else [x.id for x in await b.outbox.broadcasts() if x.status == "sending"]
        )
        for each in ids:
            counts = await b.outbox.counts(each)
            await _deliver(b, each, counts["pending"] + counts["sending"], out)
    return 0


async def _deliver(b: Broadcasting, broadcast_id: int, total: int, out: TextIO) -> int:
    assert b.sender is not None
    with tqdm(total=total, unit="msg", desc=f"broadcast {broadcast_id}") as bar:

        def progress(tally: Tally) -> None:
            bar.n = tally.sent + tally.failed + tally.blocked
            bar.set_postfix(
                sent=tally.sent,
                failed=tally.failed,
                blocked=tally.blocked,
                deferred=tally.deferred,
                refresh=False,
            )
            bar.refresh()

        await b.sender.run(broadcast_id, on_progress=progress)
    await status(b, broadcast_id, out)
    return 0


async def status(b: Broadcasting, broadcast_id: int, out: TextIO) -> None:
    found = await b.outbox.get(broadcast_id)
    if found is None:
        raise LessonBotError(f"no broadcast {broadcast_id}; `lessonbot broadcast list` shows them")
    counts = await b.outbox.counts(broadcast_id)
    out.write(f"broadcast {broadcast_id} ({found.name}): {found.status}\n")
    out.write("  " + " · ".join(f"{k} {v}" for k, v in counts.items()) + "\n")
    reasons = await b.outbox.failure_reasons(broadcast_id)
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        out.write(f"  {count} × {reason}\n")
    if reasons:
        csv_path = Path(f"broadcast-{broadcast_id}-failures.csv")
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            rows = await b.outbox.write_failures(broadcast_id, handle)
        out.write(f"  {rows} failed recipient(s) listed in {csv_path}\n")


async def show_status(settings: Settings, broadcast_id: int, out: TextIO = sys.stdout) -> int:
    async with broadcasting(settings, telegram=False) as b:
        await status(b, broadcast_id, out)
    return 0


async def show_list(settings: Settings, out: TextIO = sys.stdout) -> int:
    async with broadcasting(settings, telegram=False) as b:
        for found in await b.outbox.broadcasts():
            counts = await b.outbox.counts(found.id)
            total = sum(counts.values())
            out.write(
                f"{found.id:>5}  {found.name:<28} {found.status:<10} "
                f"{counts['sent']}/{total} sent, {counts['failed']} failed, "
                f"{counts['blocked']} blocked  {found.created_at:%Y-%m-%d %H:%M}\n"
            )
    return 0


async def cancel(settings: Settings, broadcast_id: int, out: TextIO = sys.stdout) -> int:
    async with broadcasting(settings, telegram=False) as b:
        skipped = await b.outbox.cancel(broadcast_id, cli_actor(), now())
    out.write(f"broadcast {broadcast_id} cancelled; {skipped} unsent message(s) skipped\n")
    return 0


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise LessonBotError("no terminal to confirm on; add --yes to send without asking")
    return input(question).strip().lower() in ("y", "yes")
