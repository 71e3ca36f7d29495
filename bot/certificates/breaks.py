"""Where a certificate line may be wrapped.

Thai, Lao, Khmer and Burmese do not put spaces between words, and finding word
boundaries needs a dictionary we do not ship. So wrapping is two-tier: break at
spaces (and ZWSP, which translators use as an invisible word separator) when that is
enough, and only as an emergency break between *clusters*: never inside a syllable's
stack of marks, after a Khmer coeng or Burmese virama, after a Thai/Lao pre-posed
vowel, or before a following vowel or a consonant killed by asat/bantoc.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

_ZWSP = "\u200b"
_JOINERS = frozenset("\u200c\u200d\u2060")
#: Khmer coeng and Burmese virama glue the next consonant below the previous one.
_STACKERS = frozenset("\u17d2\u1039")
#: Thai and Lao vowels written before the consonant they follow in speech.
_PREPOSED = frozenset("\u0e40\u0e41\u0e42\u0e43\u0e44\u0ec0\u0ec1\u0ec2\u0ec3\u0ec4")
#: Spacing vowels and repetition marks that continue the syllable before them.
_FOLLOWING = frozenset("\u0e30\u0e32\u0e33\u0e45\u0e46\u0eb0\u0eb2\u0eb3\u0ec6\u17d7")
#: Marks that make the consonant carrying them the final of the previous syllable.
_KILLERS = frozenset("\u103a\u17cb\u17cd\u0e4c\u0ecc")


@dataclass(frozen=True)
class Break:
    """Cut ``text`` into ``text[:end]`` and ``text[resume:]`` (skipping a space)."""

    end: int
    resume: int


def _is_mark(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Mc", "Me")


def word_breaks(text: str) -> list[Break]:
    """Breaks at spaces, ZWSP and after a hyphen between letters."""
    found: list[Break] = []
    for i, char in enumerate(text):
        if char in (" ", _ZWSP) and 0 < i < len(text) - 1:
            found.append(Break(i, i + 1))
        elif char == "-" and 0 < i < len(text) - 1 and text[i - 1].isalpha():
            found.append(Break(i + 1, i + 1))
    return found


def _kills(text: str, start: int) -> bool:
    """True if the cluster beginning at ``start`` carries a killer mark."""
    for char in text[start + 1 :]:
        if char in _KILLERS:
            return True
        if not _is_mark(char):
            return False
    return False


def cluster_breaks(text: str) -> list[Break]:
    """Emergency breaks between clusters, for text too long to wrap at word breaks."""
    found: list[Break] = []
    for i in range(1, len(text)):
        before, char = text[i - 1], text[i]
        if " " in (before, char) or _ZWSP in (before, char):
            continue  # word breaks already cover these
        if _is_mark(char) or char in _JOINERS or before in _JOINERS:
            continue
        if before in _STACKERS or before in _PREPOSED or char in _FOLLOWING:
            continue
        if _kills(text, i):
            continue
        found.append(Break(i, i))
    return found
