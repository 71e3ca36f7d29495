"""Admin commands in Telegram: `/broadcast` (pick a file, see the audience, preview, confirm)
and `/broadcasts` (progress). Anyone who isn't an admin gets the bot's usual answer to an
unknown command, so the commands don't even show they exist.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.broadcast.message import BroadcastFile, load_broadcast
from bot.broadcast.outbox import Outbox
from bot.content.library import Library, digest
from bot.content.text import render
from bot.engine import Button, Say
from bot.store.admins import Roles

ADMIN_COMMANDS = ("broadcast", "broadcasts")
PREFIX = "a:"  # admin button tokens: a:f:<file> pick, a:s:<file> send, a:x cancel


@dataclass
class AdminDesk:
    roles: Roles
    outbox: Outbox
    library: Library
    broadcasts_dir: Path

    async def is_admin(self, user_id: int) -> bool:
        return await self.roles.has(str(user_id), "admin")

    async def command(self, user_id: int, name: str) -> list[Say]:
        await self.outbox.audit(f"telegram:{user_id}", f"command.{name}", {}, _now())
        if name == "broadcasts":
            return [await self._progress()]
        files = self._files()
        if not files:
            return [Say(f"No broadcast files in <code>{html.escape(str(self.broadcasts_dir))}"
                        "</code>. Write one (see README), check it with "
                        "<code>lessonbot lint</code>, then send /broadcast again.")]
        return [Say("📣 Which broadcast?", tuple(
            (Button(name, f"{PREFIX}f:{key}"),) for key, (name, _) in files.items()))]

    async def press(self, user_id: int, first_name: str, token: str) -> list[Say]:
        action, _, key = token.removeprefix(PREFIX).partition(":")
        if action == "x":
            return [Say("Not sent.")]
        found = self._files().get(key)
        if found is None:
            return [Say("That file is gone or has errors now; send /broadcast again.")]
        name, message = found
        if action == "f":
            return await self._preview(key, message, first_name)
        if action == "s":
            broadcast_id = await self.outbox.create(
                message, message.segment, self.library, actor=f"telegram:{user_id}",
                now=_now(), notify_chat=str(user_id))
            counts = await self.outbox.counts(broadcast_id)
            return [Say(f"✅ Broadcast {broadcast_id} ({html.escape(name)}) is queued for "
                        f"{counts['pending']} learner(s). I'll send you a summary when it's "
                        "done; /broadcasts shows progress.")]
        return [Say("Send /broadcast again.")]

    async def _preview(self, key: str, message: BroadcastFile, first_name: str) -> list[Say]:
        audience = await self.outbox.count_by_locale(message.segment, self.library, _now())
        lines = [f"📣 <b>{html.escape(message.id)}</b> reaches {sum(audience.values())} "
                 "learner(s):"]
        for locale, count in sorted(audience.items()):
            note = "" if locale in message.text else f" (they get {message.fallback_locale})"
            lines.append(f"• {html.escape(locale)}: {count}{note}")
        if message.schedule:
            lines.append(f"Scheduled: {message.schedule.at or message.schedule.local_time}")
        lines.append("Previews follow, one per language.")
        out = [Say("\n".join(lines))]
        for locale, text in message.text.items():
            out.append(Say(f"<i>[{html.escape(locale)}]</i>\n" +
                           render(text, {"first_name": first_name}).strip()))
        out.append(Say("Send it?", (
            (Button("✅ Send", f"{PREFIX}s:{key}"),), (Button("✖️ Cancel", f"{PREFIX}x"),))))
        return out

    async def _progress(self) -> Say:
        rows = []
        for found in (await self.outbox.broadcasts())[:10]:
            counts = await self.outbox.counts(found.id)
            rows.append(f"{found.id}. <b>{html.escape(found.name)}</b>: {found.status}, "
                        f"{counts['sent']}/{sum(counts.values())} sent, "
                        f"{counts['failed']} failed, {counts['blocked']} blocked")
        return Say("\n".join(rows) if rows else "No broadcasts yet.")

    def _files(self) -> dict[str, tuple[str, BroadcastFile]]:
        """Broadcast files without errors, by a short key that fits in button data."""
        found = {}
        for path in sorted(self.broadcasts_dir.glob("*.yaml")):
            message, _ = load_broadcast(path, self.library)
            if message is not None:
                if message.media:
                    message = message.model_copy(
                        update={"media": str((path.parent / message.media).resolve())})
                found[digest(path.name)] = (path.stem, message)
        return found


def _now() -> datetime:
    return datetime.now(UTC)
