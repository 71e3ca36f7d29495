"""Small-cell suppression: the rule that keeps a report from pointing at any one learner.

The rule (docs/report.md explains it to readers):

1. A count of 1 to 4 learners is shown as "<5". Zero is shown: it describes nobody.
2. When the cells of a table add up to a total that the report shows, hiding one cell is not
   enough, because the total minus the shown cells gives it back. So the smallest other cells
   are hidden too ("hidden") until at least two cells are hidden and together they count at
   least 5 learners: subtraction then gives only a range.
3. A percentage is shown only next to a shown count, and its base is made only of shown
   numbers. Where a base leaves out a category ("prefer not to say", "not asked"), a hidden
   category stays in the base, so no percentage can be worked back into a hidden count.

The functions here take exact counts and return `Count` values that know how to print
themselves; the queries never round or hide anything, so tests can compare them with the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

MIN_COUNT = 5
SMALL = "<5"
HIDDEN = "hidden"

# Why a CSV cell is empty, in the column `<name>_flag` beside it: the CSV keeps its numbers
# numeric (a "<5" in a column of numbers makes spreadsheets read the whole column as text).
SUPPRESSED_SMALL = "suppressed_small"  # rule 1: fewer than MIN_COUNT learners
SUPPRESSED_COMPLEMENT = "suppressed_complement"  # rule 2: else a small cell is the difference
FLAGS = {SMALL: SUPPRESSED_SMALL, HIDDEN: SUPPRESSED_COMPLEMENT}

K = TypeVar("K")


@dataclass(frozen=True)
class Count:
    """A number of learners as the report prints it."""

    value: int
    hidden: str = ""  # "" shown | SMALL | HIDDEN

    @property
    def shown(self) -> bool:
        return not self.hidden

    def csv(self) -> str:
        """The number, or "" when hidden: `flag` says why."""
        return "" if self.hidden else str(self.value)

    def flag(self) -> str:
        return FLAGS[self.hidden] if self.hidden else ""

    def html(self) -> str:
        return self.hidden or f"{self.value:,}"


@dataclass(frozen=True)
class Share:
    """A percentage of a base; printed only when both parts may be printed."""

    part: Count
    base: int

    @property
    def shown(self) -> bool:
        return self.part.shown and self.base >= MIN_COUNT

    @property
    def percent(self) -> int | None:
        """Whole percent, rounded half up; None when it must not be shown."""
        if not self.shown:
            return None
        return percent(self.part.value, self.base)

    def csv(self) -> str:
        found = self.percent
        return "" if found is None else str(found)

    def flag(self) -> str:
        """Why `csv` is empty: the part's reason, or a base of 1 to 4 learners (nothing for
        a base of none, where there is no percentage to hide)."""
        if self.part.hidden:
            return self.part.flag()
        return SUPPRESSED_SMALL if 0 < self.base < MIN_COUNT else ""

    def html(self) -> str:
        found = self.percent
        return "" if found is None else f"{found}%"


def can_be_hidden(cell: object) -> bool:
    """Whether these rules may hide a cell of this kind, which the CSV then flags: a count or
    any figure that carries a `hidden` reason, and a share (hidden with its count)."""
    return isinstance(cell, Share) or hasattr(cell, "hidden")


def percent(part: int, base: int) -> int:
    """`part` of `base` in whole percent, half up (Python's round() would round half to even)."""
    return (200 * part + base) // (2 * base) if base else 0


def count(value: int) -> Count:
    """One count with no shown total to protect: only the "<5" rule applies."""
    return Count(value, SMALL if 0 < value < MIN_COUNT else "")


def protect(values: Sequence[int]) -> list[Count]:
    """Counts that add up to a shown total: "<5" for small ones, then complementary hiding."""
    cells = [count(v) for v in values]

    def hidden_cells() -> list[int]:
        return [v for v, c in zip(values, cells, strict=True) if not c.shown]

    while hidden_cells() and (len(hidden_cells()) < 2 or sum(hidden_cells()) < MIN_COUNT):
        candidates = [
            (v, i) for i, (v, c) in enumerate(zip(values, cells, strict=True)) if c.shown and v > 0
        ]
        if not candidates:
            break  # everything non-zero is hidden already; the total itself is then small
        _, smallest = min(candidates)
        cells[smallest] = Count(values[smallest], HIDDEN)
    return cells


def protect_map(counts: Mapping[K, int]) -> dict[K, Count]:
    keys = list(counts)
    return dict(zip(keys, protect([counts[k] for k in keys]), strict=True))


def base_without(total: int, cells: Mapping[K, Count], excluded: Iterable[K]) -> int:
    """`total` less the excluded categories that are shown (rule 3: hidden ones stay in)."""
    return total - sum(cells[k].value for k in excluded if k in cells and cells[k].shown)
