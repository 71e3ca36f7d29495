"""Splitting long messages for Telegram's 4096-character limit.

Messages are Telegram HTML. A chunk is cut between paragraphs if it can be, else between lines,
else between words, else anywhere, but never inside a tag (`<a href="...">`) or an entity
(`&amp;`): Telegram refuses a chunk with half of one. Formatting that spans a cut is closed at
the end of one chunk and opened again at the start of the next, so every chunk is valid HTML
on its own and looks as the whole would.
"""

from __future__ import annotations

import re

from bot.content.text import TELEGRAM_TEXT_LIMIT

# The indivisible pieces of a message: a tag, an entity, or one character.
_ATOM = re.compile(r"<[^<>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);|.", re.DOTALL)
# How good a place to cut is, after a given piece (and the one before it).
_PARAGRAPH, _LINE, _WORD, _ANYWHERE = 3, 2, 1, 0


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Chunks of at most `limit` characters, tags and entities whole, formatting balanced."""
    if len(text) <= limit:
        return [text]
    atoms = _ATOM.findall(text)
    chunks: list[str] = []
    opened: list[str] = []  # the opening tags in effect where the current chunk starts
    start = 0
    while start < len(atoms):
        prefix = "".join(opened)
        stack, size, end = list(opened), len(prefix), start
        best: tuple[int, int, list[str]] | None = None  # (how good, cut after, tags open)
        while end < len(atoms):
            after = _apply(stack, atoms[end])
            if size + len(atoms[end]) + len(_closing(after)) > limit and end > start:
                break
            size += len(atoms[end])
            stack, end = after, end + 1
            quality = _quality(atoms, end)
            # The latest break of the best kind, but a better kind counts only in the chunk's
            # second half: a paragraph break near its start must not leave a stub of a chunk.
            if best is None or quality == best[0] or (quality > best[0] and size >= limit // 2):
                best = (quality, end, stack)
        separator = 0  # the break cut at is dropped: a chunk's end is already a break
        if end < len(atoms) and best is not None:
            quality, end, stack = best
            separator = {_PARAGRAPH: 2, _LINE: 1, _WORD: 1}.get(quality, 0)
        body = "".join(atoms[start : end - separator])
        if body.strip():
            chunks.append(prefix + body + _closing(stack))
        opened, start = stack, end
    return chunks


def _quality(atoms: list[str], end: int) -> int:
    """How good a cut after atoms[end - 1] is."""
    last = atoms[end - 1]
    if last == "\n":
        return _PARAGRAPH if end >= 2 and atoms[end - 2] == "\n" else _LINE
    return _WORD if last.isspace() else _ANYWHERE


def _apply(stack: list[str], atom: str) -> list[str]:
    """The opening tags in effect after `atom`."""
    if not atom.startswith("<") or len(atom) < 3:
        return stack
    if atom.startswith("</"):
        name = _name(atom)
        for i in range(len(stack) - 1, -1, -1):
            if _name(stack[i]) == name:
                return stack[:i] + stack[i + 1 :]
        return stack
    return [*stack, atom]


def _name(tag: str) -> str:
    return tag.strip("</>").split(maxsplit=1)[0].lower() if tag.strip("</>") else ""


def _closing(stack: list[str]) -> str:
    return "".join(f"</{_name(tag)}>" for tag in reversed(stack))
