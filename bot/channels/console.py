"""The terminal channel: the real engine and database, buttons shown as `[1] Next`.

Authors use it to try lessons; it also reads piped stdin, for demos and tests.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path, PurePath
from typing import TextIO

from bot.content.text import strip_tags
from bot.engine import Button, Command, Event, Press, Say, Start, Text
from bot.engine.context import N_
from bot.engine.matching import match_label
from bot.service import LessonService
from bot.store import Identity

QUIT = {"/quit", "/exit"}
FILES = Path("data") / "files"


def render(messages: list[Say], out: TextIO, files: Path = FILES) -> list[Button]:
    """Print messages; return their buttons, numbered in the order shown.

    A file made for the learner (a certificate, /mydata) is saved in `files`, so the author can
    open it; the message shows where.
    """
    shown: list[Button] = []
    for message in messages:
        media = message.media
        if media is not None and media.data is not None:
            files.mkdir(parents=True, exist_ok=True)
            saved = files / PurePath(media.path).name
            saved.write_bytes(media.data)
            out.write(f"[{media.kind}: {saved}]\n")
        elif media is not None:
            out.write(f"[{media.kind}: {media.path}]\n")
        out.write(strip_tags(message.text).rstrip() + "\n")
        for row in message.buttons:
            labels = []
            for button in row:
                shown.append(button)
                labels.append(f"[{len(shown)}] {button.label}")
            out.write("  ".join(labels) + "\n")
        out.write("\n")
    out.flush()
    return shown


def to_event(line: str, buttons: list[Button]) -> Event:
    if line.startswith("/"):
        name, _, arg = line[1:].partition(" ")
        return Command(name.lower(), arg.strip())
    picked = match_label(line, [b.label for b in buttons])
    return Press(buttons[picked].token) if picked is not None else Text(line)


async def chat(
    service: LessonService, who: Identity, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
) -> None:
    buttons = render(await service.handle(who, Start()), stdout)
    while True:
        if stdin.isatty():
            stdout.write("> ")
            stdout.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            break  # end of input: progress is already saved
        line = line.strip()
        if not line:
            continue
        if line.lower() in QUIT:
            break
        if not stdin.isatty():
            stdout.write(f"> {line}\n")
        buttons = render(await service.handle(who, to_event(line, buttons)), stdout)
    locale = service.locale_for(who.language)
    stdout.write(
        service.texts.ui(locale, N_("Bye! Your progress is saved. Come back any time.")) + "\n"
    )
