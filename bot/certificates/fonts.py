"""The shipped Noto fonts: which file draws which characters, loaded once.

Certificates carry user-supplied names and translated text in Thai, Khmer, Lao, Burmese
and Latin-script languages, often mixed on one line. No single Noto file covers all of
them, so every character is given to a *family*. Coverage is read from each file's
``cmap`` with fontTools (Pillow cannot tell us whether a glyph exists; it silently draws
``.notdef`` boxes, the "tofu" we must never print on a certificate).
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from PIL import ImageFont, features

FONT_DIR = Path(__file__).resolve().parent / "fonts"


class Weight(enum.Enum):
    REGULAR = "Regular"
    BOLD = "Bold"


@dataclass(frozen=True)
class Family:
    """One Noto family and the Unicode blocks it is the preferred font for.

    ``scale`` evens out optical size: Burmese letters are drawn much larger on the em
    than Latin ones, so at equal point size a Burmese name would dwarf a Latin one.
    """

    name: str
    blocks: tuple[tuple[int, int], ...] = ()
    scale: float = 1.0

    def path(self, weight: Weight) -> Path:
        return FONT_DIR / f"{self.name}-{weight.value}.ttf"

    def owns(self, codepoint: int) -> bool:
        """True if the codepoint lies in one of this family's own script blocks."""
        return any(lo <= codepoint <= hi for lo, hi in self.blocks)


LATIN = Family("NotoSans")
THAI = Family("NotoSansThai", ((0x0E00, 0x0E7F),))
LAO = Family("NotoSansLao", ((0x0E80, 0x0EFF),))
KHMER = Family("NotoSansKhmer", ((0x1780, 0x17FF), (0x19E0, 0x19FF)))
MYANMAR = Family(
    "NotoSansMyanmar", ((0x1000, 0x109F), (0xA9E0, 0xA9FF), (0xAA60, 0xAA7F)), scale=0.86
)

#: Fallback order for characters that belong to no script block above (Latin first:
#: NotoSans has by far the widest coverage of punctuation, digits and symbols).
FAMILIES: tuple[Family, ...] = (LATIN, THAI, KHMER, LAO, MYANMAR)
SCRIPT_FAMILIES: tuple[Family, ...] = (THAI, LAO, KHMER, MYANMAR)


@functools.cache
def coverage(family: Family) -> frozenset[int]:
    """Codepoints the family can draw in *every* weight we ship.

    Intersecting the weights means a run can be re-rendered bold or regular without
    re-checking coverage (for the shipped files both cmaps are identical anyway).
    """
    maps = []
    for weight in Weight:
        font = TTFont(family.path(weight), lazy=True)
        try:
            maps.append(frozenset(font.getBestCmap()))
        finally:
            font.close()
    return frozenset.intersection(*maps)


def covers(family: Family, char: str) -> bool:
    return ord(char) in coverage(family)


def drawable(char: str) -> bool:
    """True if some shipped family has a glyph for ``char``."""
    return any(covers(family, char) for family in FAMILIES)


def layout_engine() -> ImageFont.Layout:
    """Raqm (HarfBuzz shaping) when Pillow has it; otherwise basic layout.

    Asking Pillow for raqm when it is missing warns, and the test suite turns warnings
    into errors, so we choose explicitly. Basic layout draws Latin and Thai passably
    but cannot reorder or stack Khmer and Burmese: raqm is needed for correct output.
    """
    return ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC


@functools.lru_cache(maxsize=256)
def pil_font(family: Family, weight: Weight, size: int) -> ImageFont.FreeTypeFont:
    """The Pillow font for ``family`` at a nominal ``size`` (the family's scale applied)."""
    pixels = max(1, round(size * family.scale))
    return ImageFont.truetype(str(family.path(weight)), pixels, layout_engine=layout_engine())
