"""Pieces of the Telegram channel that need no server: button signing and text splitting."""

from __future__ import annotations

import pytest

from bot.channels.telegram.signing import CALLBACK_LIMIT, key_from_token, sign, verify
from bot.channels.telegram.split import split_text
from bot.content.library import LoadedLesson
from bot.engine.tokens import step_token

KEY = key_from_token("123:abc")


def test_signed_token_round_trips_for_its_learner_only() -> None:
    data = sign(KEY, 42, "o:abcdefgh:ijkl:n:mnop")
    assert verify(KEY, 42, data) == "o:abcdefgh:ijkl:n:mnop"
    assert verify(KEY, 43, data) is None  # another learner replaying it
    assert verify(key_from_token("123:other"), 42, data) is None  # another bot's key
    assert verify(KEY, 42, data.replace(":n:", ":0:")) is None  # tampered
    assert verify(KEY, 42, "no-signature") is None
    assert verify(KEY, 42, "m:menu~ไทย") is None  # non-ASCII, found by the fuzz test


def test_longest_possible_token_fits_in_64_bytes(library: object) -> None:
    from bot.content.model import Lesson

    long_id = "x" * 32
    lesson = Lesson.model_validate(
        {
            "version": 1,
            "kind": "lesson",
            "id": long_id,
            "title": "t",
            "minutes": 1,
            "steps": [{"id": long_id, "type": "end", "text": "bye"}],
        }
    )
    loaded = LoadedLesson.build(long_id, lesson, "p", b"raw")
    data = sign(KEY, 10**15, step_token(loaded, long_id, long_id))
    assert len(data.encode()) <= CALLBACK_LIMIT


def test_short_text_is_one_chunk() -> None:
    assert split_text("hello") == ["hello"]


def test_long_text_splits_between_paragraphs() -> None:
    paragraphs = [f"<b>Part {i}</b> " + "word " * 150 for i in range(12)]
    chunks = split_text("\n\n".join(paragraphs))
    assert len(chunks) > 1
    assert all(len(c) <= 4096 for c in chunks)
    assert "\n\n".join(chunks) == "\n\n".join(paragraphs)  # nothing lost, cut only at breaks
    assert all(c.startswith("<b>Part") for c in chunks)


@pytest.mark.parametrize("text", ["a" * 10_000, ("line\n" * 2000), ("word " * 3000)])
def test_unbroken_text_still_fits(text: str) -> None:
    chunks = split_text(text)
    assert all(0 < len(c) <= 4096 for c in chunks)
    assert "".join(chunks).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(
        " ", ""
    )
