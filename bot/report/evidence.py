"""The evidence behind the outcome figures: who was asked, who answered, what they said at the
baseline and at each follow-up wave, and in which arm of the encouragement trial they are.

Like `queries`, everything is a GROUP BY in the database: what comes back is counts per
combination (wave, arm, subgroup, answer before, answer after), never a row per learner. The
estimates and the suppression are done on these counts, in `evidence_tables`.

How a wave's answers are found: the check-in's answers of a learner belong to the latest wave
they were invited to before answering (`survey_waves.invited_at`). A learner *answered* a wave
if they gave any answer to it, "Prefer not to say" included: they responded. The baseline's
invitation is its `survey_invited` event; its answers are the baseline lesson's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, select
from sqlalchemy.orm import aliased

from bot.content.surveys import BASELINE, CHECK_IN, SURVEY_COURSE
from bot.report.queries import Source, Who, _learners, _rows
from bot.store.models import AnswerRecord, EventRecord, Learner, SurveyWave

BASELINE_WAVE = 0  # the baseline, as a wave of 0 months


@dataclass(frozen=True)
class Item:
    """An outcome question asked at the baseline and at every wave, read as yes or no."""

    step: str
    title: str
    yes: frozenset[str]  # the answers that count as "yes"
    unknown: frozenset[str] = frozenset({"skip"})  # left out of the base


ITEMS = (
    Item("selling-online", "Sells online", frozenset({"yes"})),
    Item("customers", "10 or more customers a week", frozenset({"10-30", "over-30"})),
    Item("two-step", "Two-step verification on", frozenset({"yes"})),
    Item("applied-scheme", "Has applied for a government programme", frozenset({"yes"})),
    Item("still-running", "Business running", frozenset({"yes"})),
)
ITEM = {item.step: item for item in ITEMS}
ATTRIBUTION = "attribution"  # "did anything change because of the lessons?"
ATTRIBUTED = frozenset({"a-lot", "a-little"})
COUNTERFACTUAL = "counterfactual"  # "without the lessons, would you have made them anyway?"
NOT_ANYWAY = frozenset({"no", "later"})
# The subgroups outcomes and response rates are broken down by (learner columns).
GROUPS = ("gender", "age_group", "disability", "minority", "country")


@dataclass(frozen=True)
class Evidence:
    """Exact counts; each mapping's key is a tuple whose parts its comment names."""

    # (wave, arm, *GROUPS) -> [invited, answered]; wave 0 is the baseline
    response: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)
    # (wave, arm, step, before, after) -> learners; before is None without a baseline answer
    pairs: dict[tuple[Any, ...], int] = field(default_factory=dict)
    # (wave, step, after, *GROUPS) -> learners
    by_group: dict[tuple[Any, ...], int] = field(default_factory=dict)
    # (arm, *GROUPS) -> learners in the trial (arm is not None) and, with None, everyone
    arms: dict[tuple[Any, ...], int] = field(default_factory=dict)
    # (wave, arm, attribution, counterfactual) -> learners
    attributed: dict[tuple[Any, ...], int] = field(default_factory=dict)
    # (wave, arm) -> baseline respondents invited to the wave, and how many of them answered
    retained: dict[tuple[int, str | None], list[int]] = field(default_factory=dict)

    @property
    def waves(self) -> list[int]:
        return sorted({key[0] for key in self.response if key[0] != BASELINE_WAVE})

    @property
    def has_arms(self) -> bool:
        return any(key[0] is not None for key in self.arms)


def _wave_answers() -> Select[Any]:
    """(learner_id, months, step, value): each learner's last answer to each check-in step,
    in the wave it belongs to."""
    a, w, later = AnswerRecord, SurveyWave, aliased(SurveyWave)
    newer_wave = exists().where(
        and_(
            later.learner_id == a.learner_id,
            later.invited_at <= a.created_at,
            later.invited_at > w.invited_at,
        )
    )
    last = (
        select(func.max(a.id).label("id"), w.months.label("months"))
        .join(w, and_(w.learner_id == a.learner_id, w.invited_at <= a.created_at))
        .where(a.course == SURVEY_COURSE, a.lesson == CHECK_IN, ~newer_wave)
        .group_by(a.learner_id, w.months, a.step)
        .subquery()
    )
    return select(a.learner_id, last.c.months, a.step, a.value).join(last, last.c.id == a.id)


def _baseline_answers() -> Any:
    """(learner_id, step, value): each learner's last answer to each baseline step."""
    a = AnswerRecord
    last = (
        select(func.max(a.id).label("id"))
        .where(a.course == SURVEY_COURSE, a.lesson == BASELINE)
        .group_by(a.learner_id, a.step)
        .subquery()
    )
    return select(a.learner_id, a.step, a.value).join(last, last.c.id == a.id)


def _groups() -> list[Any]:
    return [getattr(Learner, name) for name in GROUPS]


async def collect(source: Source, *, who: Who = None) -> Evidence:
    """Every count the evidence tables need, in six GROUP BY queries."""
    wave = _wave_answers().subquery()
    evidence = Evidence()
    await _response(source, who, evidence)
    await _pairs(source, who, wave, evidence)
    await _by_group(source, who, wave, evidence)
    await _arms(source, who, evidence)
    await _attributed(source, who, wave, evidence)
    await _retained(source, who, evidence)
    return evidence


def _answered_wave() -> ColumnElement[bool]:
    """On a `survey_waves` row: the learner answered that wave (a follow-up answer after its
    invitation, and before any later one's). Correlated, by the learner's indexed answers.

    Any follow-up lesson but the baseline counts: invitations sent before the waves existed
    became the 5-month wave (migration 0010), and their answers are the old lesson's."""
    a, w, later = AnswerRecord, SurveyWave, aliased(SurveyWave)
    return exists().where(
        a.learner_id == w.learner_id,
        a.course == SURVEY_COURSE,
        a.lesson != BASELINE,
        a.created_at >= w.invited_at,
        ~exists()
        .where(
            later.learner_id == w.learner_id,
            later.invited_at > w.invited_at,
            later.invited_at <= a.created_at,
        )
        .correlate_except(later),  # `w` is the outer query's row, two levels up
    )


def _answered_baseline() -> ColumnElement[bool]:
    a = AnswerRecord
    return exists().where(
        a.learner_id == Learner.id, a.course == SURVEY_COURSE, a.lesson == BASELINE
    )


def _flagged(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


async def _response(source: Source, who: Who, out: Evidence) -> None:
    w = SurveyWave
    query = (
        select(w.months, Learner.arm, *_groups(), func.count(), _flagged(_answered_wave()))
        .join(Learner, Learner.id == w.learner_id)
        .where(*_learners(who))
        .group_by(w.months, Learner.arm, *_groups())
    )
    for months, arm, *rest in await _rows(source, query):
        *groups, invited, answered = rest
        out.response[(int(months), arm, *groups)] = [int(invited), int(answered or 0)]
    e = EventRecord
    offered = exists().where(
        e.learner_id == Learner.id,
        e.name == "survey_invited",
        e.course == SURVEY_COURSE,
        e.lesson == BASELINE,
    )
    query = (
        select(Learner.arm, *_groups(), func.count(), _flagged(_answered_baseline()))
        .where(offered, *_learners(who))
        .group_by(Learner.arm, *_groups())
    )
    for arm, *rest in await _rows(source, query):
        *groups, invited, answered = rest
        out.response[(BASELINE_WAVE, arm, *groups)] = [int(invited), int(answered or 0)]


async def _pairs(source: Source, who: Who, wave: Any, out: Evidence) -> None:
    steps = [item.step for item in ITEMS]
    earlier = aliased(AnswerRecord)
    # The learner's last baseline answer to the same step. A correlated lookup by learner (an
    # indexed column) rather than a join of two derived tables, which SQLite would scan.
    before = (
        select(earlier.value)
        .where(
            earlier.learner_id == wave.c.learner_id,
            earlier.course == SURVEY_COURSE,
            earlier.lesson == BASELINE,
            earlier.step == wave.c.step,
        )
        .order_by(earlier.id.desc())
        .limit(1)
        .scalar_subquery()
        .label("before")
    )
    query = (
        select(wave.c.months, Learner.arm, wave.c.step, before, wave.c.value, func.count())
        .join(Learner, Learner.id == wave.c.learner_id)
        .where(wave.c.step.in_(steps), *_learners(who))
        .group_by(wave.c.months, Learner.arm, wave.c.step, before, wave.c.value)
    )
    for months, arm, step, value_before, after, n in await _rows(source, query):
        out.pairs[(int(months), arm, step, value_before, after)] = int(n)
    # The baseline's own answers, as the wave 0 "after" with no "before".
    base = _baseline_answers().subquery()
    query = (
        select(Learner.arm, base.c.step, base.c.value, func.count())
        .join(Learner, Learner.id == base.c.learner_id)
        .where(base.c.step.in_(steps), *_learners(who))
        .group_by(Learner.arm, base.c.step, base.c.value)
    )
    for arm, step, value, n in await _rows(source, query):
        out.pairs[(BASELINE_WAVE, arm, step, None, value)] = int(n)


async def _by_group(source: Source, who: Who, wave: Any, out: Evidence) -> None:
    query = (
        select(wave.c.months, wave.c.step, wave.c.value, *_groups(), func.count())
        .join(Learner, Learner.id == wave.c.learner_id)
        .where(wave.c.step.in_([item.step for item in ITEMS]), *_learners(who))
        .group_by(wave.c.months, wave.c.step, wave.c.value, *_groups())
    )
    for months, step, value, *rest in await _rows(source, query):
        *groups, n = rest
        out.by_group[(int(months), step, value, *groups)] = int(n)


async def _arms(source: Source, who: Who, out: Evidence) -> None:
    query = select(Learner.arm, *_groups(), func.count()).where(*_learners(who))
    for arm, *rest in await _rows(source, query.group_by(Learner.arm, *_groups())):
        *groups, n = rest
        out.arms[(arm, *groups)] = int(n)


async def _attributed(source: Source, who: Who, wave: Any, out: Evidence) -> None:
    # Both answers of a learner's wave side by side, in one pass over the wave's answers (a
    # self-join of the derived table would make SQLite build it once per row).
    def answer(step: str) -> Any:
        return func.max(case((wave.c.step == step, wave.c.value))).label(step)

    both = (
        select(wave.c.learner_id, wave.c.months, answer(ATTRIBUTION), answer(COUNTERFACTUAL))
        .where(wave.c.step.in_([ATTRIBUTION, COUNTERFACTUAL]))
        .group_by(wave.c.learner_id, wave.c.months)
        .subquery()
    )
    said, anyway = both.c[ATTRIBUTION], both.c[COUNTERFACTUAL]
    query = (
        select(both.c.months, Learner.arm, said, anyway, func.count())
        .join(Learner, Learner.id == both.c.learner_id)
        .where(said.is_not(None), *_learners(who))
        .group_by(both.c.months, Learner.arm, said, anyway)
    )
    for months, arm, attribution, counterfactual, n in await _rows(source, query):
        out.attributed[(int(months), arm, attribution, counterfactual)] = int(n)


async def _retained(source: Source, who: Who, out: Evidence) -> None:
    """Of the baseline's respondents invited to each wave, how many answered it: the rest is
    the attrition that can bias a before-and-after comparison."""
    w = SurveyWave
    query = (
        select(w.months, Learner.arm, func.count(), _flagged(_answered_wave()))
        .join(Learner, Learner.id == w.learner_id)
        .where(_answered_baseline(), *_learners(who))
        .group_by(w.months, Learner.arm)
    )
    for months, arm, invited, kept in await _rows(source, query):
        out.retained[(int(months), arm)] = [int(invited), int(kept or 0)]
