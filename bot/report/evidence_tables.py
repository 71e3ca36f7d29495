"""The evidence tables: response rates, attrition, balance, change with intervals, the arms'
difference with its minimum detectable effect, outcomes by subgroup, and the seed programme's
own table. Counts in (`evidence.Evidence`), protected cells out, like `tables`.

Every count goes through `privacy`: a group of cells that adds up to a total the report shows
is protected as a whole (`protect`), so no subtraction across a breakdown gives a hidden cell
back. An estimate is printed only where its counts may be: a share whose "yes" count is hidden
is hidden too, and a change or difference needs at least `MIN_PAIRS` learners behind each side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.journey.trial import ARMS, COMPARISON, ENCOURAGED
from bot.report import estimates, labels
from bot.report.cells import Column, Points, Table
from bot.report.evidence import (
    ATTRIBUTED,
    BASELINE_WAVE,
    GROUPS,
    ITEM,
    ITEMS,
    NOT_ANYWAY,
    Evidence,
    Item,
)
from bot.report.privacy import HIDDEN, MIN_COUNT, SMALL, Count, Share, count, protect
from bot.report.queries import YOUTH

# An interval over fewer learners than this says little and could, with the shares beside it,
# point at a few of them; it is left out, flagged as small.
MIN_PAIRS = 10
ARM_LABELS = {None: "All learners", ENCOURAGED: "Encouraged", COMPARISON: "Comparison"}
YOUTH_BAND = "18–35"


def _youth(age_group: str | None) -> str | None:
    """The youth band of an age group; other values (not asked, "skip", the old "under-15")
    stay as they are."""
    if age_group in YOUTH:
        return "youth"
    return "older" if age_group in ("36-50", "51+") else age_group


# The subgroups of the breakdowns: name -> (title, its value for a learner's GROUPS tuple).
BREAKDOWNS: dict[str, tuple[str, Callable[[Sequence[Any]], str | None]]] = {
    "gender": ("Gender", lambda g: g[GROUPS.index("gender")]),
    "youth": (f"Youth ({YOUTH_BAND})", lambda g: _youth(g[GROUPS.index("age_group")])),
    "disability": ("Person with a disability", lambda g: g[GROUPS.index("disability")]),
    "minority": ("Ethnic minority or Indigenous", lambda g: g[GROUPS.index("minority")]),
    "country": ("Country", lambda g: g[GROUPS.index("country")]),
}


def value_label(breakdown: str, value: str | None) -> str:
    if breakdown == "youth":
        return {"youth": f"Aged {YOUTH_BAND}", "older": "Older than 35"}.get(
            str(value), labels.value_label("age_group", value)
        )
    return labels.value_label(breakdown, value)


def wave_label(months: int) -> str:
    return "Baseline" if months == BASELINE_WAVE else f"{months} months"


def hidden_points(why: str = SMALL) -> Points:
    return Points(None, why)


def interval(
    found: estimates.Estimate | None, *, signed: bool, why: str = SMALL
) -> tuple[Points, Points, Points]:
    """The estimate, its low and its high end, as three cells (one CSV column each)."""
    if found is None:
        return hidden_points(why), hidden_points(why), hidden_points(why)
    return (
        Points(found.value, signed=signed),
        Points(found.low, signed=signed),
        Points(found.high, signed=signed),
    )


def share_of(part: Count, base: int) -> estimates.Estimate | None:
    """Wilson's interval for a share, or None where its count is hidden or the base small."""
    if not part.shown or base < MIN_COUNT:
        return None
    return estimates.proportion(part.value, base)


def rate(answered: Count, invited: Count) -> Share:
    """A response rate: hidden with either of its counts (rule 3: only shown numbers)."""
    if not invited.shown:
        return Share(Count(answered.value, answered.hidden or HIDDEN), invited.value)
    return Share(answered, invited.value)


def _arms(evidence: Evidence) -> list[str | None]:
    return [None, *ARMS] if evidence.has_arms else [None]


def _in_arm(arm: str | None, value: str | None) -> bool:
    return arm is None or value == arm


# -- response -----------------------------------------------------------------------------------


def _waves(evidence: Evidence) -> list[int]:
    return [BASELINE_WAVE, *evidence.waves]


def response_rows(evidence: Evidence) -> list[tuple[Any, ...]]:
    """Per wave, per arm: invited, answered, response rate. The arms (with the learners outside
    the trial) add up to "All learners", so they are protected together."""
    rows: list[tuple[Any, ...]] = []
    for months in _waves(evidence):
        cells = {key: value for key, value in evidence.response.items() if key[0] == months}
        invited = {
            arm: sum(v[0] for k, v in cells.items() if k[1] == arm) for arm in {k[1] for k in cells}
        }
        answered = {arm: sum(v[1] for k, v in cells.items() if k[1] == arm) for arm in invited}
        parts = sorted(invited, key=str)
        shown_invited = dict(zip(parts, protect([invited[a] for a in parts]), strict=True))
        shown_answered = dict(zip(parts, protect([answered[a] for a in parts]), strict=True))
        for arm in _arms(evidence):
            if arm is None:
                i, a = count(sum(invited.values())), count(sum(answered.values()))
            else:
                i = shown_invited.get(arm, Count(0))
                a = shown_answered.get(arm, Count(0))
            rows.append(
                (months, wave_label(months), arm or "all", ARM_LABELS[arm], i, a, rate(a, i))
            )
    return rows


def response_by_group_rows(evidence: Evidence) -> list[tuple[Any, ...]]:
    """Per wave, per subgroup: invited, answered, rate; each breakdown protected as a whole."""
    rows: list[tuple[Any, ...]] = []
    for months in _waves(evidence):
        cells = {k[2:]: v for k, v in _merge_arms(evidence.response, months).items()}
        for name, (title, pick) in BREAKDOWNS.items():
            invited: dict[str | None, int] = {}
            answered: dict[str | None, int] = {}
            for groups, (asked, replied) in cells.items():
                value = pick(groups)
                invited[value] = invited.get(value, 0) + asked
                answered[value] = answered.get(value, 0) + replied
            values = _ordered(name, invited)
            shown_i = protect([invited[v] for v in values])
            shown_a = protect([answered[v] for v in values])
            for value, i, a in zip(values, shown_i, shown_a, strict=True):
                rows.append(
                    (
                        months,
                        wave_label(months),
                        name,
                        title,
                        value or "",
                        value_label(name, value),
                        i,
                        a,
                        rate(a, i),
                    )
                )
    return rows


def _merge_arms(
    response: Mapping[tuple[Any, ...], list[int]], months: int
) -> dict[tuple[Any, ...], list[int]]:
    """The response cells of one wave, arms added together: (months, None, *groups)."""
    merged: dict[tuple[Any, ...], list[int]] = {}
    for key, (invited, answered) in response.items():
        if key[0] != months:
            continue
        cell = merged.setdefault((months, None, *key[2:]), [0, 0])
        cell[0] += invited
        cell[1] += answered
    return merged


def _ordered(name: str, counts: Mapping[str | None, int]) -> list[str | None]:
    """Known values in the report's order (or by size), then "prefer not to say", then none."""
    dimension = "age_group" if name == "youth" else name
    fixed = ["youth", "older"] if name == "youth" else list(labels.VALUE_ORDER.get(dimension, ()))
    known = [v for v in counts if v not in (None, "skip")]
    known.sort(key=lambda v: (fixed.index(v) if v in fixed else len(fixed), -counts[v], str(v)))
    return known + [v for v in ("skip", None) if v in counts]


def attrition_rows(evidence: Evidence) -> list[tuple[Any, ...]]:
    """Of the baseline's respondents invited to a wave: answered, lost, and the share lost."""
    rows: list[tuple[Any, ...]] = []
    for months in evidence.waves:
        for arm in _arms(evidence):
            invited = sum(
                v[0] for (m, a), v in evidence.retained.items() if m == months and _in_arm(arm, a)
            )
            kept = sum(
                v[1] for (m, a), v in evidence.retained.items() if m == months and _in_arm(arm, a)
            )
            total = count(invited)
            answered, lost = (
                protect([kept, invited - kept])
                if total.shown
                else (Count(kept, HIDDEN), Count(invited - kept, HIDDEN))
            )
            rows.append(
                (
                    months,
                    wave_label(months),
                    arm or "all",
                    ARM_LABELS[arm],
                    total,
                    answered,
                    lost,
                    rate(lost, total),
                )
            )
    return rows


# -- answers: shares, change, difference --------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """An item's answers in one wave (and arm): "yes" and the known answers (the base)."""

    yes: int
    known: int


def tally(evidence: Evidence, months: int, arm: str | None, item: Item) -> Tally:
    yes = known = 0
    for (m, a, step, _before, after), n in evidence.pairs.items():
        if m != months or step != item.step or not _in_arm(arm, a) or after in item.unknown:
            continue
        known += n
        yes += n if after in item.yes else 0
    return Tally(yes, known)


def paired(
    evidence: Evidence, months: int, arm: str | None, item: Item
) -> tuple[int, int, int, int]:
    """(yes→yes, yes→no, no→yes, no→no) for learners with a known answer at both times."""
    cells = [0, 0, 0, 0]
    for (m, a, step, before, after), n in evidence.pairs.items():
        if m != months or step != item.step or not _in_arm(arm, a):
            continue
        if before is None or before in item.unknown or after in item.unknown:
            continue
        cells[2 * (before not in item.yes) + (after not in item.yes)] += n
    return cells[0], cells[1], cells[2], cells[3]


def _share_points(part: int, n: int) -> Points:
    """A share of the pairs: hidden with few pairs, or where its count would be (times n)."""
    if n < MIN_PAIRS:
        return hidden_points()
    if not count(part).shown:
        return hidden_points(count(part).hidden)
    return Points(part / n)


def change(
    evidence: Evidence, months: int, arm: str | None, item: Item
) -> estimates.Estimate | None:
    cells = paired(evidence, months, arm, item)
    if sum(cells) < MIN_PAIRS:
        return None
    return estimates.paired_change(*cells)


def change_rows(evidence: Evidence) -> list[tuple[Any, ...]]:
    """Per wave, item and arm: the same learners' share before and after, and the change."""
    rows: list[tuple[Any, ...]] = []
    for months in evidence.waves:
        for item in ITEMS:
            for arm in _arms(evidence):
                a, b, c, d = paired(evidence, months, arm, item)
                n = a + b + c + d
                before, after = _share_points(a + b, n), _share_points(a + c, n)
                rows.append(
                    (
                        months,
                        wave_label(months),
                        item.step,
                        item.title,
                        arm or "all",
                        ARM_LABELS[arm],
                        count(n),
                        before,
                        after,
                        *interval(change(evidence, months, arm, item), signed=True),
                    )
                )
    return rows


def difference(evidence: Evidence, months: int, item: Item) -> estimates.Estimate | None:
    encouraged = tally(evidence, months, ENCOURAGED, item)
    comparison = tally(evidence, months, COMPARISON, item)
    if min(encouraged.known, comparison.known) < MIN_PAIRS:
        return None
    return estimates.difference(encouraged.yes, encouraged.known, comparison.yes, comparison.known)


def difference_rows(evidence: Evidence) -> list[tuple[Any, ...]]:
    """Per wave and item: each arm's share, the difference (encouraged minus comparison) with
    its interval, and the smallest difference this many learners could reliably detect."""
    rows: list[tuple[Any, ...]] = []
    if not evidence.has_arms:
        return rows
    for months in evidence.waves:
        for item in ITEMS:
            enc = tally(evidence, months, ENCOURAGED, item)
            com = tally(evidence, months, COMPARISON, item)
            pooled = (enc.yes + com.yes) / (enc.known + com.known) if enc.known + com.known else 0.0
            detectable = estimates.mde(enc.known, com.known, pooled)
            rows.append(
                (
                    months,
                    wave_label(months),
                    item.step,
                    item.title,
                    count(enc.known),
                    *interval(share_of(count(enc.yes), enc.known), signed=False)[:1],
                    count(com.known),
                    *interval(share_of(count(com.yes), com.known), signed=False)[:1],
                    *interval(difference(evidence, months, item), signed=True),
                    Points(detectable) if detectable <= 1 else hidden_points(),
                )
            )
    return rows


def attributed(evidence: Evidence, months: int, arm: str | None) -> tuple[int, int, int]:
    """Respondents to the attribution question (known answers), those who said the lessons
    changed something, and those who said so and would not have made the change anyway."""
    known = said = not_anyway = 0
    for (m, a, attribution, counterfactual), n in evidence.attributed.items():
        if m != months or not _in_arm(arm, a) or attribution in (None, "skip"):
            continue
        known += n
        if attribution in ATTRIBUTED:
            said += n
            not_anyway += n if counterfactual in NOT_ANYWAY else 0
    return known, said, not_anyway


def measured_against_said_rows(
    evidence: Evidence, step: str = "selling-online"
) -> list[tuple[Any, ...]]:
    """Per wave: the change the baseline measures, beside the change learners attribute to the
    lessons (the seed programme's "as a result of the training")."""
    item = ITEM[step]
    rows: list[tuple[Any, ...]] = []
    for months in evidence.waves:
        for arm in _arms(evidence):
            known, said, not_anyway = attributed(evidence, months, arm)
            said_cell, anyway_cell = count(said), count(not_anyway)
            rows.append(
                (
                    months,
                    wave_label(months),
                    arm or "all",
                    ARM_LABELS[arm],
                    *interval(change(evidence, months, arm, item), signed=True)[:1],
                    count(known),
                    *interval(share_of(said_cell, known), signed=False),
                    *interval(share_of(anyway_cell, known), signed=False),
                )
            )
    return rows


# -- subgroups ----------------------------------------------------------------------------------


def outcome_by_group_rows(evidence: Evidence) -> list[tuple[Any, ...]]:
    """Per wave, item and subgroup: the share "yes". The "yes" counts of a breakdown add up to
    the item's "yes" total, and its known answers to the item's base: both are protected."""
    rows: list[tuple[Any, ...]] = []
    for months in evidence.waves:
        for item in ITEMS:
            cells = [
                (key[3:], key[2], n)
                for key, n in evidence.by_group.items()
                if key[0] == months and key[1] == item.step and key[2] not in item.unknown
            ]
            for name, (title, pick) in BREAKDOWNS.items():
                yes: dict[str | None, int] = {}
                known: dict[str | None, int] = {}
                for groups, answer, n in cells:
                    value = pick(groups)
                    known[value] = known.get(value, 0) + n
                    yes[value] = yes.get(value, 0) + (n if answer in item.yes else 0)
                values = _ordered(name, known)
                shown_known = protect([known[v] for v in values])
                shown_yes = protect([yes.get(v, 0) for v in values])
                for value, base, part in zip(values, shown_known, shown_yes, strict=True):
                    share = (
                        Share(part, base.value)
                        if base.shown
                        else Share(Count(part.value, HIDDEN), base.value)
                    )
                    rows.append(
                        (
                            months,
                            wave_label(months),
                            item.step,
                            item.title,
                            name,
                            title,
                            value or "",
                            value_label(name, value),
                            base,
                            part,
                            share,
                        )
                    )
    return rows


def balance_rows(evidence: Evidence) -> list[tuple[Any, ...]]:
    """The arms at the start: who they are, and their baseline answers. Randomisation makes
    them alike in expectation; this shows whether they are, in the sample the report rests on."""
    rows: list[tuple[Any, ...]] = []
    if not evidence.has_arms:
        return rows
    sizes = dict.fromkeys(ARMS, 0)
    for key, n in evidence.arms.items():
        if key[0] in sizes:
            sizes[key[0]] += n
    rows.append(("learners", "Learners", *_pair_cells(sizes, sizes, total=True)))
    for name, (title, pick) in BREAKDOWNS.items():
        if name == "country":
            continue  # many small cells; the country table of the reach section covers it
        wanted = {"gender": "woman", "youth": "youth", "disability": "yes", "minority": "yes"}[name]
        part: dict[str, int] = {}
        base: dict[str, int] = {}
        for key, n in evidence.arms.items():
            if key[0] not in sizes:
                continue
            value = pick(key[1:])
            if value in (None, "skip"):
                continue
            base[key[0]] = base.get(key[0], 0) + n
            part[key[0]] = part.get(key[0], 0) + (n if value == wanted else 0)
        rows.append(
            (f"{name}:{wanted}", f"{title}: {value_label(name, wanted)}", *_pair_cells(part, base))
        )
    for item in ITEMS:
        yes = {arm: tally(evidence, BASELINE_WAVE, arm, item).yes for arm in sizes}
        known = {arm: tally(evidence, BASELINE_WAVE, arm, item).known for arm in sizes}
        rows.append(
            (
                f"baseline:{item.step}",
                f"At baseline: {item.title.lower()}",
                *_pair_cells(yes, known),
            )
        )
    return rows


def _pair_cells(
    part: Mapping[str, int], base: Mapping[str, int], *, total: bool = False
) -> tuple[Any, ...]:
    """Encouraged and comparison: count and share each, and the difference in points."""
    cells: list[Any] = []
    shares: list[float | None] = []
    for arm in ARMS:
        n = count(part.get(arm, 0))
        share = None if total else share_of(n, base.get(arm, 0))
        cells += [n, Points(share.value) if share else (Points(None) if total else hidden_points())]
        shares.append(share.value if share else None)
    first, second = shares
    cells.append(
        Points(first - second, signed=True)
        if first is not None and second is not None
        else Points(None)
    )
    return tuple(cells)


# -- the tables ---------------------------------------------------------------------------------

WAVE = (Column("wave_months", "Months after the first course", html=False), Column("wave", "Wave"))
ARM = (Column("arm", "Arm id", html=False), Column("arm_label", "Arm"))
ITEM_COLUMNS = (Column("item", "Question id", html=False), Column("item_label", "Outcome"))
GROUP = (
    Column("breakdown", "Breakdown id", html=False),
    Column("breakdown_label", "Breakdown"),
    Column("group", "Group id", html=False),
    Column("group_label", "Group"),
)


def _ci(name: str, label: str) -> tuple[Column, ...]:
    return (
        Column(f"{name}_pp", label),
        Column(f"{name}_low_pp", "95% CI from"),
        Column(f"{name}_high_pp", "to"),
    )


def evidence_tables(evidence: Evidence) -> list[Table]:
    """Every evidence table, in the order the page shows them; the arms' tables only where
    there is a trial."""
    rate_columns = (
        Column("invited", "Invited"),
        Column("answered", "Answered"),
        Column("response_rate", "Response rate %"),
    )
    found = [
        Table("survey_response", "Response per wave", (*WAVE, *ARM, *rate_columns),
              tuple(response_rows(evidence))),
        Table("survey_response_by_group", "Response per wave, by group",
              (*WAVE, *GROUP, *rate_columns), tuple(response_by_group_rows(evidence))),
        Table("attrition", "Attrition: baseline respondents who did not answer a wave",
              (*WAVE, *ARM, Column("invited", "Baseline respondents invited"),
               Column("answered", "Answered"), Column("lost", "Did not answer"),
               Column("attrition", "Attrition %")),
              tuple(attrition_rows(evidence))),
        Table("outcome_change", "Change from baseline, same learners",
              (*WAVE, *ITEM_COLUMNS, *ARM, Column("pairs", "Learners asked both times"),
               Column("before_pct", "Baseline %"), Column("after_pct", "Wave %"),
               *_ci("change", "Change (points)")),
              tuple(change_rows(evidence))),
        Table("measured_and_attributed", "Measured change and the change learners attribute",
              (*WAVE, *ARM, Column("measured_change_pp", "Measured: change in selling online"),
               Column("asked", "Answered the attribution question"),
               *_ci("attributed", "Say the lessons changed something %"),
               *_ci("attributed_not_anyway", "…and would not have anyway %")),
              tuple(measured_against_said_rows(evidence))),
        Table("outcomes_by_group", "Outcomes by group",
              (*WAVE, *ITEM_COLUMNS, *GROUP, Column("answered", "Answered"),
               Column("yes", "Yes"), Column("yes_pct", "Yes %")),
              tuple(outcome_by_group_rows(evidence))),
    ]  # fmt: skip
    if evidence.has_arms:
        pair = (
            Column("encouraged", "Encouraged"),
            Column("encouraged_pct", "Encouraged %"),
            Column("comparison", "Comparison"),
            Column("comparison_pct", "Comparison %"),
            Column("difference_pp", "Difference (points)"),
        )
        found += [
            Table("arm_balance", "The arms at baseline",
                  (Column("characteristic", "Characteristic id", html=False),
                   Column("characteristic_label", "Characteristic"), *pair),
                  tuple(balance_rows(evidence))),
            Table("arm_difference", "Encouraged minus comparison, at each wave",
                  (*WAVE, *ITEM_COLUMNS, Column("encouraged_n", "Encouraged: answered"),
                   Column("encouraged_pct", "Encouraged %"),
                   Column("comparison_n", "Comparison: answered"),
                   Column("comparison_pct", "Comparison %"),
                   *_ci("difference", "Difference (points)"),
                   Column("mde_pp", "Smallest detectable difference (points)")),
                  tuple(difference_rows(evidence))),
        ]  # fmt: skip
    return found
