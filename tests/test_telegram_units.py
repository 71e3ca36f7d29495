"""Pieces of the Telegram channel that need no server: button signing and text splitting."""

from __future__ import annotations

import pytest

from bot.channels.signing import CALLBACK_LIMIT, key_from_token, sign, verify
from bot.channels.telegram.split import split_text
from bot.content.library import LoadedLesson
from bot.content.text import check_html
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


def test_a_huge_number_in_bold_is_split_into_chunks_telegram_accepts() -> None:
    # A 10,000-digit answer echoed in bold: every chunk must be valid HTML on its own.
    text = "You typed <b>" + "7" * 10_000 + "</b> &amp; that is <i>a lot</i>."
    chunks = split_text(text)
    assert len(chunks) == 3
    for chunk in chunks:
        assert len(chunk) <= 4096
        assert check_html(chunk) == [], chunk[-40:]
    assert chunks[1].startswith("<b>") and chunks[0].endswith("</b>")
    assert "".join(c.replace("<b>", "").replace("</b>", "") for c in chunks) == text.replace(
        "<b>", ""
    ).replace("</b>", "")


@pytest.mark.parametrize("size", range(4080, 4100))
def test_no_cut_inside_a_tag_or_an_entity(size: int) -> None:
    # Pieces straddle the limit at every offset: a link's tag and an entity must stay whole.
    text = "x" * (size - 30) + '<a href="https://example.org/a">link</a>&amp;&#x1F600;' + "y" * 50
    for chunk in split_text(text):
        assert len(chunk) <= 4096
        assert check_html(chunk) == [], chunk[-60:]
        assert not chunk.endswith(("&", "&amp", "<a", '"')) and "&#x1F6" not in chunk[-6:]
