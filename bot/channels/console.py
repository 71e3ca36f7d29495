"""The terminal channel: the real engine and database, buttons shown as `[1] Next`.

Authors use it to try lessons; it also reads piped stdin, for demos and tests.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path, PurePath
from typing import TextIO

from bot.content.text import strip_tags
from bot.engine import Command, Event, Say, Start, Text
from bot.engine.context import N_
from bot.service import LessonService
from bot.store import Identity

QUIT = {"/quit", "/exit"}
FILES = Path("data") / "files"


def render(messages: list[Say], out: TextIO, files: Path = FILES) -> None:
    """Print messages, each message's buttons numbered from 1 as the engine numbers them.

    A file made for the learner (a certificate, /mydata) is saved in `files`, so the author can
    open it; the message shows where.
    """
    for message in messages:
        media = message.media
        if media is not None and media.data is not None:
            files.mkdir(parents=True, exist_ok=True)
            saved = files / PurePath(media.path).name
            saved.write_bytes(media.data)
            out.write(f"[{media.kind}: {saved}]\n")
        elif media is not None:
            out.write(f"[{media.kind}: {media.path}]\n")
        if message.text.strip() or not media:  # a message of a clip alone shows only the clip
            out.write(strip_tags(message.text).rstrip() + "\n")
        number = 0
        for row in message.buttons:
            labels = []
            for button in row:
                number += 1
                labels.append(f"[{number}] {button.label}")
            out.write("  ".join(labels) + "\n")
        out.write("\n")
    out.flush()


def to_event(line: str) -> Event:
    """What the learner typed, passed on as it is, as the messaging apps pass it.

    The engine resolves a typed number or label against the prompt it showed last; doing any
    of that here would hide from authors and tests what learners on the apps get.
    """
    if line.startswith("/"):
        name, _, arg = line[1:].partition(" ")
        return Command(name.lower(), arg.strip())
    return Text(line)


async def chat(
    service: LessonService, who: Identity, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
) -> None:
    render(await service.handle(who, Start()), stdout)
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
        render(await service.handle(who, to_event(line)), stdout)
    locale = service.locale_for(who.language)
    stdout.write(
        service.texts.ui(locale, N_("Bye! Your progress is saved. Come back any time.")) + "\n"
    )
