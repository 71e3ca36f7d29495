"""Fitting one field of a certificate into its box: wrap, shrink, and as a last resort cut.

Each field (heading, name, course title...) owns a fixed rectangle on the page. Text is
measured with the same fonts and shaping that draw it, and the fit is tried in order
of typographic preference: wrap at word breaks at a comfortable size; then allow
emergency breaks between clusters (needed for unspaced Thai/Khmer/Lao/Burmese); then
shrink down to the field's minimum size; finally cut the text short with an ellipsis.
Whatever happens, nothing is drawn outside the box.

Line heights come from the *ink* of the shaped text as well as the font metrics:
Khmer subscripts and Burmese stacked marks reach far below NotoSans' descender, and
Noto Sans Khmer's own metrics do not cover them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import ImageDraw

from bot.certificates.breaks import Break, cluster_breaks, word_breaks
from bot.certificates.fonts import LATIN, Weight, pil_font
from bot.certificates.runs import Run, split_runs

ELLIPSIS = "\u2026"
#: Share of the nominal size below which we would rather break inside a word.
COMFORTABLE = 0.7
#: Extra space between the lines of one field, as a share of the font size.
LINE_GAP = 0.18


@dataclass(frozen=True)
class Style:
    weight: Weight
    size: int
    min_size: int
    max_lines: int = 1


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True)
class Line:
    """One shaped line: its runs and the extent of its ink around the pen origin.

    ``left``/``right`` are the horizontal ink limits (the origin included), so a
    Lao vowel hanging left of the first consonant is counted; ``ascent``/``descent``
    are at least the NotoSans metrics, so plain lines share one rhythm.
    """

    text: str
    runs: tuple[Run, ...]
    left: float
    right: float
    ascent: int
    descent: int

    @property
    def width(self) -> float:
        return self.right - self.left


@dataclass(frozen=True)
class Block:
    lines: tuple[Line, ...]
    weight: Weight
    size: int

    @property
    def gap(self) -> int:
        return round(self.size * LINE_GAP)

    @property
    def height(self) -> int:
        return _stack_height(self.lines, self.size)

    @property
    def width(self) -> float:
        return max((line.width for line in self.lines), default=0.0)


def _stack_height(lines: Sequence[Line], size: int) -> int:
    gaps = round(size * LINE_GAP) * max(0, len(lines) - 1)
    return sum(line.ascent + line.descent for line in lines) + gaps


@functools.lru_cache(maxsize=8192)
def measure(text: str, weight: Weight, size: int) -> Line:
    """Shape ``text`` run by run and measure it (cached: fitting re-measures a lot)."""
    ascent, descent = pil_font(LATIN, weight, size).getmetrics()
    runs = tuple(split_runs(text))
    x = ink_left = ink_right = 0.0
    for run in runs:
        font = pil_font(run.family, weight, size)
        left, top, right, bottom = font.getbbox(run.text, anchor="ls")
        ink_left, ink_right = min(ink_left, x + left), max(ink_right, x + right, x)
        ascent, descent = max(ascent, -int(top)), max(descent, int(bottom))
        x += font.getlength(run.text)
    return Line(text, runs, ink_left, max(ink_right, x), ascent, descent)


def _wrap(
    text: str, weight: Weight, size: int, width: float, max_lines: int, emergency: bool
) -> list[Line] | None:
    """Greedy wrap into at most ``max_lines`` lines no wider than ``width``, or None."""
    lines: list[Line] = []
    rest = text
    while rest:
        whole = measure(rest, weight, size)
        if whole.width <= width:
            lines.append(whole)
            return lines
        if len(lines) + 1 >= max_lines:
            return None
        cut = _longest_fit(rest, weight, size, width, word_breaks(rest))
        if cut is None and emergency:
            cut = _longest_fit(rest, weight, size, width, cluster_breaks(rest))
        if cut is None:
            return None
        line, rest = cut
        lines.append(line)
    return lines


def _longest_fit(
    text: str, weight: Weight, size: int, width: float, breaks: list[Break]
) -> tuple[Line, str] | None:
    """The longest first line ending at one of ``breaks`` that fits ``width``.

    Binary search: a longer prefix is never narrower, and measuring every candidate
    of an unspaced 150-character title at every size would take seconds.
    """
    found: tuple[Line, str] | None = None
    low, high = 0, len(breaks) - 1
    while low <= high:
        middle = (low + high) // 2
        brk = breaks[middle]
        line = measure(text[: brk.end], weight, size)
        if line.width <= width:
            found, low = (line, text[brk.resume :]), middle + 1
        else:
            high = middle - 1
    return found


def _balance(
    text: str, weight: Weight, size: int, width: float, lines: list[Line], emergency: bool
) -> list[Line]:
    """Narrow the wrap width as far as it goes without adding a line.

    Greedy wrapping leaves a long first line and a stub; centred titles look better
    with lines of similar length.
    """
    if len(lines) < 2:
        return lines
    low, high, best = width / (2 * len(lines)), width, lines
    height = _stack_height(lines, size)
    for _ in range(10):
        middle = (low + high) / 2
        trial = _wrap(text, weight, size, middle, len(lines), emergency)
        if trial is None or _stack_height(trial, size) > height:
            low = middle
        else:
            high, best = middle, trial
    return best


def _sizes(largest: int, smallest: int) -> list[int]:
    """Font sizes from ``largest`` down to ``smallest`` in steps of about 6%."""
    sizes: list[int] = []
    size = float(largest)
    while round(size) > smallest:
        if not sizes or round(size) != sizes[-1]:
            sizes.append(round(size))
        size *= 0.94
    sizes.append(smallest)
    return sizes


def fit(text: str, style: Style, box: Box) -> Block:
    """Lay out ``text`` (already cleaned) to fit ``box`` as well as it can."""
    if not text:
        return Block((), style.weight, style.size)
    comfortable = _sizes(style.size, max(style.min_size, round(style.size * COMFORTABLE)))
    smaller = [s for s in _sizes(style.size, style.min_size) if s < comfortable[-1]]
    attempts = ((comfortable, False), (comfortable, True), (smaller, False), (smaller, True))
    for sizes, emergency in attempts:
        for size in sizes:
            lines = _wrap(text, style.weight, size, box.width, style.max_lines, emergency)
            if lines is not None and _stack_height(lines, size) <= box.height:
                lines = _balance(text, style.weight, size, box.width, lines, emergency)
                return Block(tuple(lines), style.weight, size)
    return _truncate(text, style, box)


def _truncate(text: str, style: Style, box: Box) -> Block:
    """The longest prefix (cut between clusters) that fits with an ellipsis appended."""
    size = style.min_size
    ends = sorted({b.end for b in word_breaks(text) + cluster_breaks(text)})
    best = Block((), style.weight, size)
    low, high = 0, len(ends) - 1
    while low <= high:
        middle = (low + high) // 2
        candidate = text[: ends[middle]].rstrip(" ") + ELLIPSIS
        lines = _wrap(candidate, style.weight, size, box.width, style.max_lines, True)
        if lines is not None and _stack_height(lines, size) <= box.height:
            best, low = Block(tuple(lines), style.weight, size), middle + 1
        else:
            high = middle - 1
    return best


def draw_block(draw: ImageDraw.ImageDraw, block: Block, box: Box, fill: str) -> None:
    """Draw the block's lines centred horizontally and vertically in ``box``."""
    y = box.top + (box.height - block.height) / 2
    for line in block.lines:
        baseline = y + line.ascent
        x = box.left + (box.width - line.width) / 2 - line.left
        for run in line.runs:
            font = pil_font(run.family, block.weight, block.size)
            draw.text((x, baseline), run.text, font=font, fill=fill, anchor="ls")
            x += font.getlength(run.text)
        y = baseline + line.descent + block.gap
