"""The evidence the report rests on: generated programmes with a known effect in one arm (and
with none), response rates recomputed from the raw rows, and suppression that no subtraction
across the breakdowns undoes.

The demo data (`bot.report.demo`) gives the encouraged arm `effect` more learners selling online
at every wave, and nothing else: so the report must find that difference within its interval
where it is there, and find none (an interval around zero) where it is not.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pytest

from bot.content import Library
from bot.report.cells import Points
from bot.report.evidence import ITEM, ITEMS
from bot.report.evidence_tables import (
    MIN_PAIRS,
    change,
    difference,
    response_by_group_rows,
    response_rows,
    tally,
)
from bot.report.privacy import MIN_COUNT, Count
from tests.demo_reports import DemoReport, demo_report
from tests.test_report import rows_of

NOW = datetime(2026, 11, 22, 12, 0)
EFFECT = 0.10


Programme = DemoReport


def _programme(root: Path, library: Library, learners: int, effect: float, seed: int) -> Programme:
    return demo_report(root, library, learners, seed=seed, effect=effect)


@pytest.fixture(scope="module")
def with_effect(tmp_path_factory: pytest.TempPathFactory, library: Library) -> Programme:
    return _programme(tmp_path_factory.mktemp("effect"), library, 12_000, EFFECT, seed=11)


@pytest.fixture(scope="module")
def without_effect(tmp_path_factory: pytest.TempPathFactory, library: Library) -> Programme:
    return _programme(tmp_path_factory.mktemp("none"), library, 12_000, 0.0, seed=12)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, library: Library) -> Programme:
    """Few learners: many cells of 1 to 4, so suppression has work to do."""
    return _programme(tmp_path_factory.mktemp("small"), library, 700, EFFECT, seed=13)


@pytest.fixture
def raw(with_effect: Programme) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(with_effect.db)) as conn:
        yield conn


# -- effects ----------------------------------------------------------------------------------


@pytest.mark.parametrize("months", [3, 5])
def test_the_known_effect_is_inside_the_difference_interval(
    with_effect: Programme, months: int
) -> None:
    found = difference(with_effect.data.evidence, months, ITEM["selling-online"])
    assert found is not None
    assert found.low <= EFFECT <= found.high
    assert found.low > 0  # and with 12,000 learners the interval excludes no effect at all


@pytest.mark.parametrize("months", [3, 5])
@pytest.mark.parametrize("item", [item.step for item in ITEMS])
def test_no_difference_is_found_where_there_is_none(
    without_effect: Programme, months: int, item: str
) -> None:
    found = difference(without_effect.data.evidence, months, ITEM[item])
    assert found is not None
    assert found.low <= 0 <= found.high


@pytest.mark.parametrize("item", [i.step for i in ITEMS if i.step != "selling-online"])
def test_the_effect_is_only_where_it_was_put(with_effect: Programme, item: str) -> None:
    found = difference(with_effect.data.evidence, 3, ITEM[item])
    assert found is not None and found.low <= 0 <= found.high


def test_the_difference_table_prints_the_interval_and_the_detectable_effect(
    with_effect: Programme,
) -> None:
    rows = {
        (r["wave_months"], r["item"]): r for r in rows_of(with_effect.out / "arm_difference.csv")
    }
    row = rows[("3", "selling-online")]
    found = difference(with_effect.data.evidence, 3, ITEM["selling-online"])
    assert found is not None
    assert float(row["difference_pp"]) == pytest.approx(100 * found.value, abs=0.05)
    assert float(row["difference_low_pp"]) == pytest.approx(100 * found.low, abs=0.05)
    assert float(row["difference_high_pp"]) == pytest.approx(100 * found.high, abs=0.05)
    # The difference found is larger than the smallest this sample could reliably detect.
    assert float(row["mde_pp"]) < float(row["difference_pp"])


def test_change_from_baseline_pairs_the_same_learners(
    with_effect: Programme, raw: sqlite3.Connection
) -> None:
    """The change is recomputed from the rows: each learner's baseline and 3-month answers."""
    baseline = dict(
        raw.execute(
            "SELECT learner_id, value FROM answers WHERE lesson = 'baseline' "
            "AND step = 'selling-online' ORDER BY id"
        ).fetchall()
    )
    waves: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for learner, months, at in raw.execute(
        "SELECT learner_id, months, invited_at FROM survey_waves ORDER BY invited_at"
    ):
        waves[learner].append((at, months))
    after: dict[int, str] = {}
    for learner, value, at in raw.execute(
        "SELECT learner_id, value, created_at FROM answers WHERE lesson = 'check-in' "
        "AND step = 'selling-online' ORDER BY id"
    ):
        wave = max((w for w in waves[learner] if w[0] <= at), default=None)
        if wave is not None and wave[1] == 3:
            after[learner] = value
    pairs = [
        (baseline[n], after[n])
        for n in after
        if n in baseline and "skip" not in (baseline[n], after[n])
    ]
    before_yes = sum(b == "yes" for b, _ in pairs) / len(pairs)
    after_yes = sum(a == "yes" for _, a in pairs) / len(pairs)
    found = change(with_effect.data.evidence, 3, None, ITEM["selling-online"])
    assert found is not None and found.n == len(pairs)
    assert found.value == pytest.approx(after_yes - before_yes)
    assert found.low < found.value < found.high
    assert len(pairs) > 100  # the rows were there to recompute from


# -- response rates ---------------------------------------------------------------------------


def test_response_rates_are_recomputed_from_the_raw_rows(
    with_effect: Programme, raw: sqlite3.Connection
) -> None:
    invitations = raw.execute(
        "SELECT w.learner_id, w.months, w.invited_at, l.arm FROM survey_waves w "
        "JOIN learners l ON l.id = w.learner_id ORDER BY w.invited_at"
    ).fetchall()
    answers = raw.execute(
        "SELECT learner_id, created_at FROM answers WHERE lesson = 'check-in'"
    ).fetchall()
    mine: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for learner, months, at, _ in invitations:
        mine[learner].append((at, months))
    answered: set[tuple[int, int]] = set()
    for learner, at in answers:
        wave = max((w for w in mine[learner] if w[0] <= at), default=None)
        if wave is not None:
            answered.add((learner, wave[1]))
    expected: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for learner, months, _, arm in invitations:
        for key in ((months, "all"), (months, arm)):
            expected[key][0] += 1
            expected[key][1] += (learner, months) in answered
    shown = {
        (int(r["wave_months"]), r["arm"]): r
        for r in rows_of(with_effect.out / "survey_response.csv")
    }
    for (months, arm), (invited, replied) in expected.items():
        row = shown[(months, arm)]
        assert (int(row["invited"]), int(row["answered"])) == (invited, replied)
        assert int(row["response_rate"]) == round(100 * replied / invited)
    baseline_invited = raw.execute(
        "SELECT count(DISTINCT learner_id) FROM events WHERE name = 'survey_invited'"
    ).fetchone()[0]
    baseline_answered = raw.execute(
        "SELECT count(DISTINCT learner_id) FROM answers WHERE lesson = 'baseline'"
    ).fetchone()[0]
    row = shown[(0, "all")]
    assert (int(row["invited"]), int(row["answered"])) == (baseline_invited, baseline_answered)


def test_the_headline_response_rate_is_every_wave_together(with_effect: Programme) -> None:
    rows = [r for r in rows_of(with_effect.out / "survey_response.csv") if r["arm"] == "all"]
    waves = [r for r in rows if r["wave_months"] != "0"]
    invited = sum(int(r["invited"]) for r in waves)
    answered = sum(int(r["answered"]) for r in waves)
    headline = {r["figure"]: r["value"] for r in rows_of(with_effect.out / "headline.csv")}
    assert headline["response_rate_percent"] == str(round(100 * answered / invited))


# -- suppression ------------------------------------------------------------------------------


def _undone(cells: list[Count]) -> bool:
    """Whether the hidden cells of a group that adds up to a shown total can be worked out:
    one hidden cell alone, or hidden cells that together count fewer than MIN_COUNT."""
    hidden = [c.value for c in cells if not c.shown and c.value > 0]
    return bool(hidden) and (len(hidden) < 2 or sum(hidden) < MIN_COUNT)


def test_no_breakdown_of_the_response_gives_a_hidden_cell_back(small: Programme) -> None:
    totals = {(r[0], r[2]): (r[4], r[5]) for r in response_rows(small.data.evidence)}
    groups: dict[tuple[int, str], list[tuple[Count, Count]]] = defaultdict(list)
    for row in response_by_group_rows(small.data.evidence):
        groups[(row[0], row[2])].append((row[6], row[7]))
    assert any(not c.shown for cells in groups.values() for pair in cells for c in pair)
    for (months, _breakdown), cells in groups.items():
        invited, answered = totals[(months, "all")]
        # The breakdown adds up to the wave's total, which the page shows...
        assert sum(c[0].value for c in cells) == invited.value
        assert sum(c[1].value for c in cells) == answered.value
        # ...so its hidden cells must stay hidden after subtraction.
        assert not _undone([c[0] for c in cells])
        assert not _undone([c[1] for c in cells])


def test_no_breakdown_of_an_outcome_gives_a_hidden_cell_back(small: Programme) -> None:
    groups: dict[tuple[str, ...], list[dict[str, str]]] = defaultdict(list)
    for row in rows_of(small.out / "outcomes_by_group.csv"):
        groups[(row["wave_months"], row["item"], row["breakdown"])].append(row)
    hidden = 0
    for (months, item, _), rows in groups.items():
        found = tally(small.data.evidence, int(months), None, ITEM[item])
        for column, total in (("answered", found.known), ("yes", found.yes)):
            shown = [int(r[column]) for r in rows if r[column] != ""]
            secret = [r for r in rows if r[column] == ""]
            hidden += len(secret)
            assert all(r[f"{column}_flag"] for r in secret)  # empty, and says why
            if total < MIN_COUNT:
                continue  # a total of 1 to 4 is itself hidden wherever the report has it
            # What subtraction gives is the hidden cells together: never one, never fewer than 5.
            assert len(secret) != 1
            assert not secret or total - sum(shown) >= MIN_COUNT
    assert hidden  # the small programme had cells to hide


def test_arms_in_the_response_table_are_protected_together(small: Programme) -> None:
    by_wave: dict[int, list[Count]] = defaultdict(list)
    for months, _, arm, _, invited, _, _ in response_rows(small.data.evidence):
        if arm != "all":
            by_wave[months].append(invited)
    for cells in by_wave.values():
        assert not _undone(cells)


def test_an_interval_over_few_learners_is_not_printed(small: Programme) -> None:
    for row in rows_of(small.out / "outcome_change.csv"):
        if int(row["pairs"] or 0) < MIN_PAIRS:
            assert row["change_pp"] == row["change_low_pp"] == row["change_high_pp"] == ""


def test_estimates_are_numbers_in_the_csv(with_effect: Programme) -> None:
    for name in ("outcome_change", "arm_difference", "measured_and_attributed", "arm_balance"):
        for row in rows_of(with_effect.out / f"{name}.csv"):
            for key, value in row.items():
                if key.endswith(("_pp", "_pct")) and value:
                    float(value)  # raises if a cell mixes text into a number column
    assert Points(0.083, signed=True).html() == "+8.3"
