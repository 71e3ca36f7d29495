"""What a broadcast would do on each channel, before it is sent: the dry run's numbers.

`lessonbot broadcast send --dry-run` and the admin desk's preview show, per channel, how many
learners it reaches and, where the channel has a free-messaging window (WhatsApp's 24 h), how
many are inside it (`last_active_at` within the window: sent as they are), how many need a
template and which one (its name and category: what the programme pays for), how many would be
skipped because there is none in their language, and how many would wait for the next day
because the number's messaging tier of users per 24 h is used up. Where a channel counts
messages against a monthly allowance (LINE's pushes, Zalo's proactive messages), it shows how
many count, how many are left this month and how many would wait for the next; where nothing
may go outside the window (Messenger), who would be skipped. It is a forecast: windows close
and quotas free while a broadcast is sent.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.message import Segment
from bot.broadcast.outbox import Outbox, naive
from bot.channels.capabilities import CHANNELS, Capabilities, capabilities
from bot.channels.registry import WEBHOOK_CHANNELS, configured_channels, runner_of
from bot.config import Settings
from bot.content.library import Library
from bot.store.db import for_reading
from bot.store.models import TemplateSend
from bot.store.windows import DAY

if TYPE_CHECKING:
    from bot.channels.templates import Templates

log = logging.getLogger(__name__)
PURPOSE = "broadcast"  # the template purpose a broadcast goes out under
# What a message outside the window becomes, by `Capabilities.outside_window`.
OUTSIDE = {
    "anything": "sent as written",
    "templates": "need a template",
    "allowance": "sent as counted proactive messages",
    "nothing": "cannot be sent",
}
DRY_RUN = "lessonbot broadcast send --dry-run"


# (database, now) -> messages left this month, or None for no limit. Raises if it can't tell.
Allowance = Callable[[AsyncEngine, datetime], Awaitable[int | None]]


@dataclass(frozen=True)
class ChannelRules:
    """What decides how a broadcast goes out on one channel."""

    capabilities: Capabilities
    templates: Templates | None = None  # the registry; None where it is not known
    tier: int | None = None  # users per 24 h that templates may reach; 0: no limit; None: unknown
    # Reads how many counted messages the channel has left this month (LINE's pushes, Zalo's
    # proactive messages); None where nothing is counted.
    allowance: Allowance | None = None


def channel_rules(
    settings: Settings, channels: Collection[str] | None = None
) -> dict[str, ChannelRules]:
    """The rules of `channels` (default: the configured ones) as the settings give them."""
    rules: dict[str, ChannelRules] = {}
    for name in configured_channels(settings) if channels is None else channels:
        if name == "whatsapp":
            from bot.channels.templates import load_templates

            registry, _ = load_templates(settings.whatsapp_templates)  # lint reports problems
            rules[name] = ChannelRules(capabilities(name), registry, settings.whatsapp_tier_users)
        elif name in WEBHOOK_CHANNELS:
            reader = runner_of(name).allowance
            rules[name] = ChannelRules(
                capabilities(name), allowance=functools.partial(reader, settings)
            )
        else:
            rules[name] = ChannelRules(capabilities(name))
    return rules


@dataclass(frozen=True)
class TemplateUse:
    name: str
    category: str
    count: int
    locales: tuple[tuple[str, int], ...]  # (locale, learners)


@dataclass(frozen=True)
class ChannelForecast:
    channel: str
    recipients: int
    rules: ChannelRules
    inside: int = 0  # inside the window: sent as written
    outside: int = 0  # outside it: only a template may carry it
    templates: tuple[TemplateUse, ...] = ()
    skipped: tuple[tuple[str, int], ...] = ()  # (locale, learners) with no template
    tier_used: int = 0  # users the tier counts already (templates in the last 24 h)
    wait: int = 0  # over the tier: they wait for the next day
    counted: int = 0  # messages that count against the monthly allowance
    left: int | None = None  # of that allowance, this month; None: not counted
    unknown: str = ""  # why the allowance could not be read


@dataclass(frozen=True)
class Forecast:
    channels: list[ChannelForecast]
    unreached: dict[str, int] = field(default_factory=dict)  # not configured here: learners

    def lines(self, *, as_html: bool = False) -> list[tuple[int, str]]:
        """(depth, text) lines: a heading per channel and its figures below it."""
        esc = html.escape if as_html else str

        def code(text: str) -> str:
            return f"<code>{html.escape(text)}</code>" if as_html else f"`{text}`"

        out: list[tuple[int, str]] = []
        for f in self.channels:
            out.append((0, f"On {esc(f.channel)}: {f.recipients} learner(s)"))
            caps = f.rules.capabilities
            if caps.window is not None and f.recipients:
                window = _span(caps.window)
                out.append((1, f"inside the {window} window, sent as written: {f.inside}"))
                out.append((1, f"outside it, {OUTSIDE[caps.outside_window]}: {f.outside}"))
                if f.outside and caps.outside_window == "nothing":
                    out.append((2, f"skipped, {esc(f.channel)} allows nothing there: {f.outside}"))
                elif f.outside and f.rules.templates is None:
                    out.append((2, f"which template, and who has none: {code(DRY_RUN)}"))
                for use in f.templates:
                    out.append(
                        (
                            2,
                            f"{code(use.name)} ({esc(use.category)}): {use.count} "
                            f"({_listed(use.locales)})",
                        )
                    )
                if f.skipped:
                    skipped = sum(n for _, n in f.skipped)
                    out.append(
                        (
                            2,
                            f"skipped, no {code(PURPOSE)} template in their language: "
                            f"{skipped} ({_listed(f.skipped)})",
                        )
                    )
                if caps.outside_window == "templates" and f.rules.tier is not None:
                    if f.rules.tier:
                        tier = (
                            f"messaging tier of {f.rules.tier} users per 24 h, {f.tier_used} used"
                        )
                    else:
                        tier = "messaging tier unlimited"
                    out.append((1, f"wait for the next day ({tier}): {f.wait}"))
            if f.left is not None:
                out.append(
                    (1, f"counted against the monthly quota: {f.counted}, {f.left} left this month")
                )
                if f.counted > f.left:
                    over = f.counted - f.left
                    out.append((2, f"over the quota, they wait for next month: {over}"))
            elif f.unknown:
                out.append((1, f"monthly quota left: unknown ({esc(f.unknown)})"))
            out.append((1, f"quota: {esc(caps.quota)}"))
        for channel, count in sorted(self.unreached.items()):
            out.append(
                (0, f"Not sent on {esc(channel)}: {count} learner(s); it is not configured here")
            )
        return out

    def text(self, indent: str = "  ") -> str:
        """For the terminal."""
        return "".join(f"{indent * depth}{line}\n" for depth, line in self.lines())


def _span(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:g} h" if hours >= 1 else f"{window.total_seconds() / 60:g} min"


def _listed(counts: tuple[tuple[str, int], ...]) -> str:
    return ", ".join(f"{locale} {n}" for locale, n in counts)


async def forecast(
    outbox: Outbox,
    segment: Segment,
    library: Library,
    now: datetime,
    rules: Mapping[str, ChannelRules],
    reach: Collection[str] | None = None,
) -> Forecast:
    """How the broadcast would go out on each channel of `reach` (default: the outbox's; the
    channels it queues for), by `rules` (a channel without any: its capabilities alone); the
    learners it reaches on other apps are counted as not reached."""
    reach = list(outbox.reach if reach is None else reach)
    everyone = outbox.audience(segment, library, now, CHANNELS).subquery()
    reads = for_reading(outbox.engine)
    async with reads.connect() as conn:
        per_channel = {
            str(channel): int(count)
            for channel, count in (
                await conn.execute(
                    select(everyone.c.channel, func.count()).group_by(everyone.c.channel)
                )
            ).all()
        }
        found: list[ChannelForecast] = []
        for channel in sorted(c for c in per_channel if c in reach):
            known = rules.get(channel) or ChannelRules(capabilities(channel))
            if known.capabilities.window is None:
                plan = ChannelForecast(channel, per_channel[channel], known)
            else:
                plan = await _windowed(conn, everyone, channel, per_channel[channel], known, now)
            found.append(await _counted(plan, outbox.engine, now))
    unreached = {c: n for c, n in per_channel.items() if c not in reach}
    return Forecast(found, unreached)


async def _counted(plan: ChannelForecast, engine: AsyncEngine, now: datetime) -> ChannelForecast:
    """The messages that count against the channel's monthly allowance, and what is left of
    it: every message where there is no window (LINE's pushes), those outside it where the
    channel counts them (Zalo's proactive messages)."""
    read = plan.rules.allowance
    if read is None:
        return plan
    try:
        left = await read(engine, now)
    except Exception as exc:
        log.warning("could not read the %s quota: %s", plan.channel, exc)
        return dataclasses.replace(plan, unknown=str(exc)[:200] or type(exc).__name__)
    if left is None:
        return plan
    caps = plan.rules.capabilities
    counted = plan.recipients if caps.window is None else plan.outside
    return dataclasses.replace(plan, counted=counted, left=left)


async def _windowed(
    conn: Any, reached: Any, channel: str, total: int, rules: ChannelRules, now: datetime
) -> ChannelForecast:
    """A channel with a window: inside it or not, by locale, and whether each learner had a
    template in the last 24 h (the tier counts them already: no new user)."""
    assert rules.capabilities.window is not None
    since = naive(now - rules.capabilities.window)
    recent = naive(now - DAY)
    counted = exists().where(
        TemplateSend.channel == channel,
        TemplateSend.address == reached.c.external_id,
        TemplateSend.sent_at > recent,
    )
    each = (
        select(
            reached.c.locale.label("locale"),
            (reached.c.last_active_at >= since).label("inside"),
            counted.label("counted"),
        )
        .where(reached.c.channel == channel)
        .subquery()
    )
    groups = (
        await conn.execute(
            select(each.c.locale, each.c.inside, each.c.counted, func.count()).group_by(
                each.c.locale, each.c.inside, each.c.counted
            )
        )
    ).all()
    used = int(
        (
            await conn.execute(
                select(func.count(func.distinct(TemplateSend.address))).where(
                    TemplateSend.channel == channel, TemplateSend.sent_at > recent
                )
            )
        ).scalar()
        or 0
    )
    inside = outside = new = 0
    uses: dict[tuple[str, str], Counter[str]] = {}
    skipped: Counter[str] = Counter()
    for locale, is_inside, is_counted, count in groups:
        n = int(count)
        if is_inside:
            inside += n
            continue
        outside += n
        if rules.capabilities.outside_window != "templates" or rules.templates is None:
            continue
        template = rules.templates.find(PURPOSE, str(locale))
        if template is None:
            skipped[str(locale)] += n
            continue
        uses.setdefault((template.name, template.category), Counter())[str(locale)] += n
        if not is_counted:
            new += n
    tier = rules.tier or 0
    wait = max(0, new - max(0, tier - used)) if tier else 0
    templates = tuple(
        TemplateUse(name, category, sum(by.values()), tuple(sorted(by.items())))
        for (name, category), by in sorted(uses.items())
    )
    return ChannelForecast(
        channel,
        total,
        rules,
        inside,
        outside,
        templates,
        tuple(sorted(skipped.items())),
        used,
        wait,
    )
