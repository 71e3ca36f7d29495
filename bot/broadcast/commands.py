"""`lessonbot broadcast ...`: queue, dry-run, send on every configured channel, report."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from bot.broadcast.forecast import ChannelRules, channel_rules, forecast
from bot.broadcast.message import (
    BroadcastFile,
    MediaError,
    Schedule,
    Segment,
    load_broadcast,
    media_file,
)
from bot.broadcast.outbox import Outbox, Reason
from bot.broadcast.sender import Sender, Tally, configured_sender
from bot.config import Settings
from bot.content import Library, load_library
from bot.errors import ConfigError, LessonBotError
from bot.store.admin_commands import cli_actor


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Broadcasting:
    outbox: Outbox  # queues for, and reports on, every configured channel
    library: Library
    rules: dict[str, ChannelRules]  # each configured channel's rules, for dry runs
    senders: list[Sender] = field(default_factory=list)  # one per channel; none unless sending


@asynccontextmanager
async def broadcasting(settings: Settings, *, deliver: bool) -> AsyncIterator[Broadcasting]:
    """The outbox, and with `deliver` a sender for every configured channel, connected."""
    from bot.app import open_database

    engine = await open_database(settings)
    library, _ = load_library(settings.lessons_dir)
    try:
        if not deliver:
            rules = channel_rules(settings)
            yield Broadcasting(Outbox(engine, reach=list(rules)), library, rules)
            return
        from bot.channels.runner import open_deliverers

        async with open_deliverers(settings, engine) as deliverers:
            reach = [d.channel for d in deliverers]
            outbox = Outbox(engine, reach=reach)
            senders = [
                configured_sender(settings, Outbox(engine, d.channel, reach), d, library)
                for d in deliverers
            ]
            yield Broadcasting(outbox, library, channel_rules(settings, reach), senders)
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
        listed = key in ("locale", "country", "tags", "channel")
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
    async with broadcasting(settings, deliver=not dry_run) as b:
        message = read_file(path, b.library)
        if at:
            message = message.model_copy(update={"schedule": parse_at(at)})
        segment = parse_segment(message.segment, segments)
        moment = now()
        audience = await b.outbox.count_by_locale(segment, b.library, moment)
        total = sum(audience.values())
        out.write(f"{message.id}: {total} learner(s)\n")
        for locale, count in sorted(audience.items()):
            shown = (
                locale if locale in message.text else f"{locale} (gets {message.fallback_locale})"
            )
            out.write(f"  {shown}: {count}\n")
        plan = await forecast(b.outbox, segment, b.library, moment, b.rules)
        out.write(plan.text())
        if dry_run or total == 0:
            return 0
        if not yes and not _confirm(f"Send to {total} learner(s)? [y/N] "):
            out.write("Not sent.\n")
            return 1
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
    """Continue sending, on every configured channel. The rows a dead sender held are taken
    over at once (its process is gone, or its heartbeat a few seconds old); those whose send
    was in flight when it died are the documented window for duplicates (see
    bot/broadcast/sender.py). Rows a live sender holds stay with it."""
    async with broadcasting(settings, deliver=True) as b:
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


def _summed(tallies: list[Tally]) -> Tally:
    total = Tally()
    for each in tallies:
        total.sent += each.sent
        total.failed += each.failed
        total.blocked += each.blocked
        total.deferred += each.deferred
        total.skipped += each.skipped
        total.waiting += each.waiting
    return total


async def _deliver(b: Broadcasting, broadcast_id: int, total: int, out: TextIO) -> int:
    """Every channel's sender at once, one progress bar for them all."""
    with tqdm(total=total, unit="msg", desc=f"broadcast {broadcast_id}") as bar:

        def progress(_: Tally) -> None:
            tally = _summed([s.tally for s in b.senders])
            bar.n = tally.done
            bar.set_postfix(
                sent=tally.sent,
                failed=tally.failed,
                blocked=tally.blocked,
                skipped=tally.skipped,
                waiting=tally.waiting,
                deferred=tally.deferred,
                refresh=False,
            )
            bar.refresh()

        runs = [
            asyncio.create_task(sender.run(broadcast_id, on_progress=progress))
            for sender in b.senders
        ]
        try:
            await asyncio.gather(*runs)  # the first to fail is the error, as it was
        finally:
            for run in runs:
                run.cancel()
            await asyncio.gather(*runs, return_exceptions=True)
    for sender in b.senders:
        tally = sender.tally
        if tally.waiting and tally.waiting_until is not None:
            out.write(
                f"{sender.outbox.channel}: {tally.waiting} wait for the channel's quota until "
                f"{_when(tally.waiting_until)}; `lessonbot worker` (or `run`) sends them then\n"
            )
    await status(b, broadcast_id, out)
    return 0


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _statuses(counts: dict[str, int]) -> str:
    return " · ".join(f"{k} {v}" for k, v in counts.items())


def _reason_line(reason: Reason) -> str:
    where = f"{reason.channel}, {reason.status}"
    if reason.status == "pending":
        until = reason.last_at
        where = f"{reason.channel}, waiting" + (f" until {_when(until)}" if until else "")
    return f"  {reason.count} × {reason.reason} ({where})\n"


RECEIPTS = ("sent", "delivered", "read", "failed")  # as the channels report them, in order


async def status(b: Broadcasting, broadcast_id: int, out: TextIO) -> None:
    """The admin's report: counts in all and per channel, receipts where a channel reports
    them, and the reasons rows were not delivered (or wait), with how many each."""
    found = await b.outbox.get(broadcast_id)
    if found is None:
        raise LessonBotError(f"no broadcast {broadcast_id}; `lessonbot broadcast list` shows them")
    counts = await b.outbox.counts(broadcast_id)
    out.write(f"broadcast {broadcast_id} ({found.name}): {found.status}\n")
    out.write("  " + _statuses(counts) + "\n")
    receipts = await b.outbox.receipts(broadcast_id)
    for channel, by_status in (await b.outbox.counts_by_channel(broadcast_id)).items():
        out.write(f"  {channel}: {_statuses(by_status)}\n")
        reported = receipts.get(channel)
        if reported:
            shown = [f"{r} {reported[r]}" for r in RECEIPTS if reported.get(r)]
            waiting = by_status["sent"] - sum(reported.get(r, 0) for r in RECEIPTS[:3])
            if waiting > 0:
                shown.append(f"none yet {waiting}")
            out.write(f"    receipts: {' · '.join(shown)}\n")
    reasons = await b.outbox.reasons(broadcast_id)
    for reason in reasons:
        out.write(_reason_line(reason))
    if any(r.status != "pending" for r in reasons):
        csv_path = Path(f"broadcast-{broadcast_id}-failures.csv")
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            rows = await b.outbox.write_failures(broadcast_id, handle)
        out.write(f"  {rows} recipient(s) who did not get it listed in {csv_path}\n")


async def show_status(settings: Settings, broadcast_id: int, out: TextIO = sys.stdout) -> int:
    async with broadcasting(settings, deliver=False) as b:
        await status(b, broadcast_id, out)
    return 0


async def show_list(settings: Settings, out: TextIO = sys.stdout) -> int:
    async with broadcasting(settings, deliver=False) as b:
        for found in await b.outbox.broadcasts():
            counts = await b.outbox.counts(found.id)
            total = sum(counts.values())
            out.write(
                f"{found.id:>5}  {found.name:<28} {found.status:<10} "
                f"{counts['sent']}/{total} sent, {counts['failed']} failed, "
                f"{counts['blocked']} blocked, {counts['skipped']} skipped  "
                f"{found.created_at:%Y-%m-%d %H:%M}\n"
            )
    return 0


async def cancel(settings: Settings, broadcast_id: int, out: TextIO = sys.stdout) -> int:
    async with broadcasting(settings, deliver=False) as b:
        skipped = await b.outbox.cancel(broadcast_id, cli_actor(), now())
    out.write(f"broadcast {broadcast_id} cancelled; {skipped} unsent message(s) skipped\n")
    return 0


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise LessonBotError("no terminal to confirm on; add --yes to send without asking")
    return input(question).strip().lower() in ("y", "yes")
