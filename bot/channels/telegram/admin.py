"""Admin commands in Telegram: `/broadcast` (pick a file or write a message, choose who gets
it, see the audience and a preview, then send or schedule), `/broadcasts` (progress) and
`/stats` (the programme in numbers).
Anyone who isn't an admin gets the bot's usual answer to an unknown command, so the commands
don't even show they exist.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from bot.broadcast.drafts import AlreadyQueued, Drafts
from bot.broadcast.forecast import ChannelRules, forecast
from bot.broadcast.message import (
    BroadcastFile,
    MediaError,
    Schedule,
    load_broadcast,
    media_file,
)
from bot.broadcast.outbox import Outbox
from bot.content.library import Library, digest
from bot.content.text import (
    TELEGRAM_TEXT_LIMIT,
    TextProblem,
    check_html,
    check_placeholders,
    render,
    visible_length,
)
from bot.engine import Button, Say
from bot.store.admins import Roles

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

ADMIN_COMMANDS = ("broadcast", "broadcasts", "stats")
# Admin button tokens: a:f:<key> preview (a file's key, or `d` for the message being written),
# a:s:<draft id> send now, a:t:<draft id> schedule, a:x cancel, a:w write a message,
# a:g:<locale or *> audience of the written message. Send and schedule name the stored draft of
# the preview (bot.broadcast.drafts), which can be queued once only.
PREFIX = "a:"
DRAFT = "d"
SCHEDULE_AT = time(9, 0)  # "schedule" means tomorrow-or-today 09:00 in each learner's zone


@dataclass
class Writing:
    """A broadcast an admin is writing in the chat; kept in memory, so a restart drops it
    (what they previewed is stored, see `Drafts`)."""

    text: str = ""
    message: BroadcastFile | None = None


@dataclass
class AdminDesk:
    roles: Roles
    outbox: Outbox
    library: Library
    broadcasts_dir: Path
    languages: tuple[str, ...] = ()
    # Reads for /stats: a read-only engine, so its queries never hold SQLite's write lock.
    report_engine: AsyncEngine | None = None
    drafts: dict[int, Writing] = field(default_factory=dict)
    # The configured channels' rules (`bot.broadcast.forecast.channel_rules(settings)`): the
    # broadcasts go to their learners, and the preview names the templates and the tier.
    # Without them: every app's learners, each channel's window shown alone.
    channels: Mapping[str, ChannelRules] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.previews = Drafts(self.outbox.engine)
        if self.channels:  # what the preview counts is what "Send now" queues
            self.outbox.reach = tuple(self.channels)

    def writing(self, user_id: int) -> bool:
        """Whether this admin's next typed text is the message they are writing."""
        draft = self.drafts.get(user_id)
        return draft is not None and not draft.text

    async def is_admin(self, user_id: int) -> bool:
        return await self.roles.has(str(user_id), "admin")

    async def command(self, user_id: int, name: str) -> list[Say]:
        await self.outbox.audit(f"telegram:{user_id}", f"command.{name}", {}, _now())
        if name == "broadcasts":
            return [await self._progress()]
        if name == "stats":
            from bot.report.stats import stats_text

            engine = self.report_engine or self.outbox.engine
            return [Say(await stats_text(engine, self.library, _now()))]
        rows = [(Button(title, f"{PREFIX}f:{key}"),) for key, (title, _) in self._files().items()]
        rows.append((Button("✍️ Write a new one", f"{PREFIX}w"),))
        return [
            Say(
                "📣 Which broadcast? Files come from "
                f"<code>{html.escape(str(self.broadcasts_dir))}</code>.",
                tuple(rows),
            )
        ]

    async def text(self, user_id: int, typed: str) -> list[Say]:
        """The message an admin typed: check it like a broadcast file, then ask who gets it."""
        draft = self.drafts.setdefault(user_id, Writing())
        problems = check_html(typed) + check_placeholders(typed, {"first_name"})
        if visible_length(typed) > TELEGRAM_TEXT_LIMIT:
            problems.append(TextProblem(0, f"it is over {TELEGRAM_TEXT_LIMIT} characters"))
        if problems:
            return [
                Say(
                    "That can't be sent as it is: "
                    + "; ".join(html.escape(p.message) for p in problems)
                    + ". Send it again, fixed."
                )
            ]
        draft.text = typed
        rows = [(Button("Everyone", f"{PREFIX}g:*"),)]
        rows += [
            (Button(f"Only learners using {code}", f"{PREFIX}g:{code}"),) for code in self.languages
        ]
        return [Say("Who should get it?", tuple(rows))]

    async def press(self, user_id: int, first_name: str, token: str) -> list[Say]:
        action, _, key = token.removeprefix(PREFIX).partition(":")
        if action == "x":
            self.drafts.pop(user_id, None)
            return [Say("Not sent.")]
        if action == "w":
            self.drafts[user_id] = Writing()
            return [
                Say(
                    "Send the message as one text. You can use <b>bold</b>, <i>italic</i> "
                    "and {first_name}. Everyone gets the text as you write it."
                )
            ]
        if action == "g":
            return await self._audience(user_id, key, first_name)
        if action in ("s", "t"):
            return await self._queue(user_id, key, scheduled=action == "t")
        if action == "f":
            draft = self.drafts.get(user_id) if key == DRAFT else None
            found = (
                (draft.message.id, draft.message)
                if draft and draft.message
                else self._files().get(key)
            )
            if found is None:
                return [Say("That file or draft is gone; send /broadcast again.")]
            return await self._preview(user_id, found[1], first_name)
        return [Say("Send /broadcast again.")]

    async def _queue(self, user_id: int, key: str, *, scheduled: bool) -> list[Say]:
        """Queue a previewed draft, once: the same button again queues nothing."""
        actor = f"telegram:{user_id}"
        draft = await self.previews.get(int(key), actor) if key.isdigit() else None
        if draft is None:
            return [Say("That preview is gone; send /broadcast again.")]
        if draft.broadcast_id is not None:
            return [self._already(draft.broadcast_id)]
        message = draft.message
        if scheduled:
            message = message.model_copy(update={"schedule": Schedule(local_time=SCHEDULE_AT)})
        try:
            broadcast_id = await self.outbox.create(
                message,
                message.segment,
                self.library,
                actor=actor,
                now=_now(),
                notify_chat=str(user_id),
                draft=draft.id,
            )
        except AlreadyQueued:  # a second tap that raced the first
            again = await self.previews.get(draft.id, actor)
            return [self._already(again.broadcast_id if again else None)]
        self.drafts.pop(user_id, None)
        counts = await self.outbox.counts(broadcast_id)
        when = f"for {SCHEDULE_AT:%H:%M} in each learner's own time" if scheduled else "now"
        return [
            Say(
                f"✅ Broadcast {broadcast_id} ({html.escape(message.id)}) is queued {when} "
                f"for {counts['pending']} learner(s). I'll send you a summary when "
                "it's done; /broadcasts shows progress."
            )
        ]

    @staticmethod
    def _already(broadcast_id: int | None) -> Say:
        return Say(
            f"That preview was queued already, as broadcast {broadcast_id}; nothing was sent "
            "again. /broadcasts shows its progress; send /broadcast for a new one."
        )

    async def _preview(self, user_id: int, message: BroadcastFile, first_name: str) -> list[Say]:
        draft_id = await self.previews.save(message, f"telegram:{user_id}", _now())
        now = _now()
        audience = await self.outbox.count_by_locale(message.segment, self.library, now)
        lines = [
            f"📣 <b>{html.escape(message.id)}</b> reaches {sum(audience.values())} learner(s):"
        ]
        for locale, count in sorted(audience.items()):
            note = "" if locale in message.text else f" (they get {message.fallback_locale})"
            lines.append(f"• {html.escape(locale)}: {count}{note}")
        plan = await forecast(self.outbox, message.segment, self.library, now, self.channels)
        bullets = ("", "• ", "   – ")
        lines += [f"{bullets[min(depth, 2)]}{text}" for depth, text in plan.lines(as_html=True)]
        if message.schedule:
            lines.append(f"Scheduled: {message.schedule.at or message.schedule.local_time}")
        lines.append("Previews follow, one per language.")
        out = [Say("\n".join(lines))]
        for locale, text in message.text.items():
            out.append(
                Say(
                    f"<i>[{html.escape(locale)}]</i>\n"
                    + render(text, {"first_name": first_name}).strip()
                )
            )
        out.append(
            Say(
                "Send it?",
                (
                    (Button("✅ Send now", f"{PREFIX}s:{draft_id}"),),
                    (Button(f"⏰ At {SCHEDULE_AT:%H:%M}, their time", f"{PREFIX}t:{draft_id}"),),
                    (Button("✖️ Cancel", f"{PREFIX}x"),),
                ),
            )
        )
        return out

    async def _audience(self, user_id: int, choice: str, first_name: str) -> list[Say]:
        draft = self.drafts.get(user_id)
        if draft is None or not draft.text:
            return [Say("Send /broadcast again.")]
        stamp = _now().strftime("%Y%m%d-%H%M")
        draft.message = BroadcastFile.model_validate(
            {
                "version": 1,
                "kind": "broadcast",
                "id": f"chat-{stamp}",
                "text": {"en": draft.text},
                "fallback_locale": "en",
                "segment": {} if choice == "*" else {"locale": [choice]},
            }
        )
        return await self._preview(user_id, draft.message, first_name)

    async def _progress(self) -> Say:
        rows = []
        for found in (await self.outbox.broadcasts())[:10]:
            counts = await self.outbox.counts(found.id)
            rows.append(
                f"{found.id}. <b>{html.escape(found.name)}</b>: {found.status}, "
                f"{counts['sent']}/{sum(counts.values())} sent, "
                f"{counts['failed']} failed, {counts['blocked']} blocked"
            )
        return Say("\n".join(rows) if rows else "No broadcasts yet.")

    def _files(self) -> dict[str, tuple[str, BroadcastFile]]:
        """Broadcast files without errors, by a short key that fits in button data."""
        found = {}
        for path in sorted(self.broadcasts_dir.glob("*.yaml")):
            message, _ = load_broadcast(path, self.library)
            if message is None:
                continue  # its errors are lint's to report; the other files are offered
            if message.media:
                try:  # resolved as the sender will upload it, confined to the folder
                    photo = media_file(path.parent, message.media)
                except MediaError:
                    continue  # it went away since it was checked
                message = message.model_copy(update={"media": str(photo)})
            found[digest(path.name)] = (path.stem, message)
        return found


def _now() -> datetime:
    return datetime.now(UTC)
