"""What a report table is made of: columns, rows of cells, and the cell kinds.

A cell is text, a whole number, or a value that prints itself for the page (`html`) and for the
CSV (`csv`, with `flag` saying why it is empty): a `Count` or `Share` (`privacy`), or a
`Points` figure (an estimate, in percentage points), or an `Amount` of money.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.report.privacy import FLAGS, Count, Share


@dataclass(frozen=True)
class Points:
    """A share or a difference of shares, in percentage points, as the report prints it."""

    value: float | None  # a fraction (0.083 for 8.3 points); None when it must not be shown
    hidden: str = ""  # "" shown | SMALL | HIDDEN: why not
    signed: bool = False  # a difference: "+8.3"

    @property
    def shown(self) -> bool:
        return self.value is not None and not self.hidden

    def csv(self) -> str:
        return f"{100 * self.value:.1f}" if self.shown and self.value is not None else ""

    def flag(self) -> str:
        return FLAGS.get(self.hidden, "")

    def html(self) -> str:
        if not self.shown or self.value is None:
            return self.hidden
        return f"{100 * self.value:+.1f}" if self.signed else f"{100 * self.value:.1f}"


@dataclass(frozen=True)
class Amount:
    """Money, with two decimals: a plain number in the CSV, grouped digits on the page."""

    value: float | None  # None: nothing to print (a cost per nothing, or per a hidden count)

    def csv(self) -> str:
        return "" if self.value is None else f"{self.value:.2f}"

    def flag(self) -> str:
        return ""

    def html(self) -> str:
        return "" if self.value is None else f"{self.value:,.2f}"


Cell = str | int | Count | Share | Points | Amount


@dataclass(frozen=True)
class Column:
    key: str  # the CSV header
    label: str  # the HTML header
    html: bool = True  # False: an id for spreadsheets, not for the page
    nowrap: bool = False  # short text the page keeps on one line, like "2 of 13"


@dataclass(frozen=True)
class Table:
    slug: str  # the CSV file's name
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    csv: bool = True  # False: a view of another table's cells for the page only
    total_rows: frozenset[int] = frozenset()  # rows the page prints in bold

    def column(self, key: str) -> list[Cell]:
        i = [c.key for c in self.columns].index(key)
        return [row[i] for row in self.rows]
