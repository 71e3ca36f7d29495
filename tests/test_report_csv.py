"""The report's CSV files as a spreadsheet reads them: numbers stay numbers, a hidden cell is
empty with a flag column saying why, UTF-8 with a byte order mark only for Excel."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from bot.content import Library
from bot.report.build import write_csv, write_report
from bot.report.privacy import (
    FLAGS,
    HIDDEN,
    SMALL,
    SUPPRESSED_COMPLEMENT,
    SUPPRESSED_SMALL,
    Count,
    Share,
)
from bot.report.tables import Column, Report, Table, build
from bot.store import create_engine
from tests.demo_reports import demo_report

NOW = datetime(2026, 11, 22, 12, 0)
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Written:
    out: Path
    report: Report  # the tables the files were written from


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, library: Library) -> Written:
    """A small demo programme, where many cells are small enough to be hidden."""
    made = demo_report(tmp_path_factory.mktemp("report-csv"), library, 400, seed=11)
    return Written(made.out, build(made.data, library))


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as file:
        header, *rows = list(csv.reader(file))
    return header, rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _numeric_columns(table: Table) -> list[str]:
    """Columns of numbers: counts, shares, plain numbers and any other kind of figure (every
    cell that isn't text), with some cells perhaps left empty."""
    return [
        column.key
        for i, column in enumerate(table.columns)
        if table.rows
        and all(not isinstance(row[i], str) or row[i] == "" for row in table.rows)
        and any(row[i] != "" for row in table.rows)
    ]


def _csv_tables(report: Report) -> list[Table]:
    return [table for table in report.tables.values() if table.csv]


# -- every file of a demo report --------------------------------------------------------------


def test_every_value_in_a_numeric_column_is_a_number(written: Written) -> None:
    checked = 0
    for table in _csv_tables(written.report):
        header, rows = _read(written.out / f"{table.slug}.csv")
        for key in _numeric_columns(table):
            i = header.index(key)
            values = [row[i] for row in rows if row[i] != ""]
            assert all(_is_number(v) for v in values), (table.slug, key, values)
            checked += len(values)
    assert checked > 1000


def test_hidden_cells_are_empty_and_flagged(written: Written) -> None:
    flags_seen: set[str] = set()
    for table in _csv_tables(written.report):
        header, rows = _read(written.out / f"{table.slug}.csv")
        assert len(rows) == len(table.rows)
        for i, column in enumerate(table.columns):
            cells = [row[i] for row in table.rows]
            if all(isinstance(cell, str | int) for cell in cells):
                assert f"{column.key}_flag" not in header  # nothing in it can be hidden
                continue
            if not any(isinstance(cell, Count | Share) for cell in cells):
                continue  # another kind of figure: its own tests say whether it can be hidden
            value_at, flag_at = header.index(column.key), header.index(f"{column.key}_flag")
            assert flag_at == value_at + 1  # beside the column it explains
            for cell, row in zip(cells, rows, strict=True):
                value, flag = row[value_at], row[flag_at]
                assert flag in ("", SUPPRESSED_SMALL, SUPPRESSED_COMPLEMENT)
                if flag:
                    assert value == "", (table.slug, column.key, row)
                    flags_seen.add(flag)
                if isinstance(cell, Count):
                    assert (value, flag) == (
                        ("", FLAGS[cell.hidden]) if cell.hidden else (str(cell.value), "")
                    )
    assert flags_seen == {SUPPRESSED_SMALL, SUPPRESSED_COMPLEMENT}


def test_no_file_has_a_byte_order_mark_by_default(written: Written) -> None:
    files = sorted(written.out.glob("*.csv"))
    assert len(files) == len(_csv_tables(written.report))
    for path in files:
        assert not path.read_bytes().startswith(BOM), path.name


def test_the_page_explains_the_flags(written: Written) -> None:
    page = (written.out / "report.html").read_text(encoding="utf-8")
    method = page.split("<h2>How to read this report</h2>")[1]
    for flag in (SUPPRESSED_SMALL, SUPPRESSED_COMPLEMENT, "learners_flag"):
        assert f"<code>{flag}</code>" in method


async def test_excel_files_start_with_a_byte_order_mark(
    written: Written, library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page is not what this is about: skip drawing its charts.
    monkeypatch.setattr("bot.report.html.render", lambda report, library: "<!DOCTYPE html>")
    engine = create_engine(f"sqlite+aiosqlite:///{written.out.parent / 'demo.db'}")
    try:
        paths = await write_report(engine, library, tmp_path, NOW, excel=True)
    finally:
        await engine.dispose()
    files = [path for path in paths if path.suffix == ".csv"]
    assert len(files) == len(_csv_tables(written.report))
    for path in files:
        data = path.read_bytes()
        assert data.startswith(BOM) and data[3:] == (written.out / path.name).read_bytes()
    assert not (tmp_path / "report.html").read_bytes().startswith(BOM)


# -- one table, cell by cell --------------------------------------------------------------------

TABLE = Table(
    slug="example",
    title="Example",
    columns=(
        Column("country", "Country"),
        Column("learners", "Learners"),
        Column("percent", "%"),
        Column("lessons", "Lessons"),
    ),
    rows=(
        ("Việt Nam", Count(40), Share(Count(40), 47), 3),
        ("ไทย", Count(3, SMALL), Share(Count(3, SMALL), 47), 0),
        ("Lao", Count(4, HIDDEN), Share(Count(4, HIDDEN), 47), 1),
        ("Not asked", Count(0), "", 2),
        ("Tiny base", Count(0), Share(Count(0), 3), 0),
        ("Nobody", Count(0), Share(Count(0), 0), 0),
    ),
)


def test_one_table(tmp_path: Path) -> None:
    path = tmp_path / "example.csv"
    write_csv(TABLE, path)
    assert _read(path) == (
        ["country", "learners", "learners_flag", "percent", "percent_flag", "lessons"],
        [
            ["Việt Nam", "40", "", "85", "", "3"],
            ["ไทย", "", SUPPRESSED_SMALL, "", SUPPRESSED_SMALL, "0"],
            ["Lao", "", SUPPRESSED_COMPLEMENT, "", SUPPRESSED_COMPLEMENT, "1"],
            ["Not asked", "0", "", "", "", "2"],  # no percentage for this row: not hidden
            ["Tiny base", "0", "", "", SUPPRESSED_SMALL, "0"],  # 0 of 3: a base under 5
            ["Nobody", "0", "", "", "", "0"],  # 0 of 0: nothing to hide
        ],
    )


def test_excel_only_adds_the_byte_order_mark(tmp_path: Path) -> None:
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    write_csv(TABLE, plain)
    write_csv(TABLE, excel, excel=True)
    assert not plain.read_bytes().startswith(BOM)
    assert excel.read_bytes() == BOM + plain.read_bytes()
    assert excel.read_text(encoding="utf-8-sig") == plain.read_text(encoding="utf-8")
    assert "Việt Nam" in plain.read_text(encoding="utf-8")
