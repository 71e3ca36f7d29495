"""Cleaning certificate text and cutting it into single-font runs.

A line such as ``สมศรี (Somsri) ใจดี`` needs two fonts. We give each character a
family: letters and marks of a script with its own Noto file go to that file; other
letters go to the first family that has them (NotoSans for Latin, incl. Vietnamese).
"Weak" characters (spaces, digits, punctuation, combining marks outside those blocks)
stay with the run before them when that font has them, otherwise join the next
letter's run. That keeps runs long, which matters because raqm shapes one run at a
time: splitting a Khmer or Burmese syllable across runs would break its shaping.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from bot.certificates.fonts import FAMILIES, SCRIPT_FAMILIES, Family, covers, drawable

#: Bidi embedding/override/isolate controls. A user-supplied name must not be able to
#: reorder the rest of the line (all shipped scripts are left-to-right).
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Spaces that must survive whitespace collapsing because they forbid a line break.
_NO_BREAK_SPACES = frozenset("\u00a0\u202f\u2007")
_SPACES = re.compile(r" {2,}")


@dataclass(frozen=True)
class Run:
    """A stretch of text drawn with one family."""

    family: Family
    text: str


def _invisible(char: str) -> bool:
    """Format characters and variation selectors: nothing to draw, nothing to report.

    ``Dewi 🌸\ufe0f`` should report the flower as missing, not the selector after it.
    """
    cp = ord(char)
    return unicodedata.category(char) == "Cf" or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF


def _normalise(text: str) -> str:
    """NFC, controls and bidi overrides removed, whitespace turned into plain spaces.

    NFC gives NotoSans the precomposed Vietnamese letters it was designed around; the
    rare precomposed letter a font lacks is decomposed again if its parts are drawable.
    """
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        if char.isspace() and char not in _NO_BREAK_SPACES:
            out.append(" ")
        elif unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS:
            continue
        elif not drawable(char) and not _invisible(char):
            parts = unicodedata.normalize("NFD", char)
            out.append(parts if len(parts) > 1 and all(map(drawable, parts)) else char)
        else:
            out.append(char)
    return "".join(out)


def missing_glyphs(text: str) -> set[str]:
    """Characters of ``text`` that no shipped font can draw (they are left out).

    Control characters and invisible format characters are not reported: they are
    stripped or have nothing to draw. Callers can use this to warn a learner that,
    say, the emoji in their name will not appear on the certificate.
    """
    return {c for c in _normalise(text) if not drawable(c) and not _invisible(c)}


def clean(text: str) -> str:
    """The text as it will be drawn: normalised, undrawable characters dropped.

    Invisible characters a font does have (ZWJ, ZWNJ, ZWSP) are kept: ZWNJ/ZWJ steer
    shaping and ZWSP marks a word break in Thai, Lao, Khmer and Burmese.
    """
    kept = "".join(c for c in _normalise(text) if drawable(c))
    return _SPACES.sub(" ", kept).strip(" ")


@functools.lru_cache(maxsize=4096)
def _strong_family(char: str) -> Family | None:
    """The family a character insists on, or None for weak characters."""
    cp = ord(char)
    for family in SCRIPT_FAMILIES:
        if family.owns(cp) and covers(family, char):
            return family
    if unicodedata.category(char).startswith("L"):
        return next((f for f in FAMILIES if covers(f, char)), None)
    return None


def split_runs(text: str) -> list[Run]:
    """Cut cleaned ``text`` into maximal runs that one family can draw.

    Characters no family covers are skipped (``clean`` has normally removed them).
    """
    strong = [_strong_family(c) for c in text]
    following: list[Family | None] = [None] * len(text)
    upcoming: Family | None = None
    for i in range(len(text) - 1, -1, -1):
        following[i] = upcoming
        if strong[i] is not None:
            upcoming = strong[i]

    runs: list[Run] = []
    previous: Family | None = None
    for i, char in enumerate(text):
        family = strong[i]
        if family is None:
            candidates = (previous, following[i], *FAMILIES)
            family = next((f for f in candidates if f is not None and covers(f, char)), None)
        if family is None:
            continue
        if runs and runs[-1].family == family:
            runs[-1] = Run(family, runs[-1].text + char)
        else:
            runs.append(Run(family, char))
        previous = family
    return runs
