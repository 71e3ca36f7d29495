"""Splitting long messages for Telegram's 4096-character limit, at paragraph boundaries."""

from __future__ import annotations

from bot.content.text import TELEGRAM_TEXT_LIMIT


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Chunks under `limit`, cut between paragraphs, else lines, else words, else anywhere."""
    if len(text) <= limit:
        return [text]
    for sep in ("\n\n", "\n", " "):
        parts = text.split(sep)
        if all(len(p) <= limit for p in parts):
            chunks: list[str] = []
            for part in parts:
                if chunks and len(chunks[-1]) + len(sep) + len(part) <= limit:
                    chunks[-1] += sep + part
                else:
                    chunks.append(part)
            return [c for c in chunks if c.strip()]
    return [text[i : i + limit] for i in range(0, len(text), limit)]
