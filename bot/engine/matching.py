"""Match what a learner types against button labels, in any of our scripts.

Learners type on cheap phones: without accents, with extra spaces, in their own digits. So we
compare folded forms. Accents are dropped only after Latin letters (Vietnamese `Tiếp` matches
`tiep`); in Thai, Khmer, Lao and Burmese the combining marks are vowels and tones that change
the word, so they stay.
"""

from __future__ import annotations

import unicodedata

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_EXTRA_FOLDS = str.maketrans({"đ": "d", "ł": "l", "ø": "o"})


def _is_latin(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("LATIN")


def fold(text: str) -> str:
    """A comparison key: NFKC, case-folded, no invisible characters, spaces, punctuation or
    Latin accents."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()
    kept: list[str] = []
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch) and kept and _is_latin(kept[-1]):
            continue
        kept.append(ch)
    text = unicodedata.normalize("NFC", "".join(kept)).translate(_EXTRA_FOLDS)
    # Punctuation anywhere goes, curly quotes and apostrophes too: `dont` = `Don’t`, `15-24` =
    # `15–24`. Thai, Khmer, Lao and Burmese marks are letters' parts (Mn, Mc), not punctuation.
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith(("P", "Z", "C")))


def as_number(text: str) -> int | None:
    """`3`, `３`, `๓`, `៣`, `໓` or `၃` as 3; anything else None."""
    folded = fold(text)
    if not folded or len(folded) > 3:
        return None
    digits = [unicodedata.decimal(ch, None) for ch in folded]
    if any(d is None for d in digits):
        return None
    return int("".join(str(d) for d in digits))


def match_label(text: str, labels: list[str]) -> int | None:
    """The index of the label `text` names, by its words or by number (1-based).

    Words win, so on a scale or a quiz whose answers are numbers, typing `4` means the label 4.
    """
    key = fold(text)
    if not key:
        return None
    for i, label in enumerate(labels):
        if fold(label) == key:
            return i
    number = as_number(text)
    if number is not None and 1 <= number <= len(labels):
        return number - 1
    return None
