"""What a programme brings to its report: its name, its reporting period, its costs; and the
table in the seed programme's own form, so the bot's figures can stand beside its 2022 report.

The costs file is YAML a programme officer writes (docs/report.md):

    currency: USD
    programme: 12000   # everything the programme spent in the period
    surveys: 800       # optional: what the surveys cost (template fees, airtime, prizes)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import ColumnElement, and_

from bot.errors import ConfigError
from bot.report.cells import Amount, Cell, Column, Table
from bot.report.evidence import ITEM, Evidence
from bot.report.evidence_tables import attributed, rate, tally
from bot.report.privacy import Share, count
from bot.store.models import Learner

SEED_WAVE = 5  # the seed programme asked five months after the training


class Costs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: str = Field(min_length=1, max_length=8)
    programme: float = Field(gt=0)
    surveys: float | None = Field(default=None, ge=0)


def load_costs(path: Path) -> Costs:
    """The costs file, or a ConfigError that says where it is wrong and how to fix it."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the costs file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    try:
        return Costs.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'the file'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"{path}: {problems}. Expected, for example: currency: USD, programme: 12000, "
            "surveys: 800"
        ) from exc


@dataclass(frozen=True)
class Period:
    """The learners a report is about: those who first wrote from `start` to `end` (dates,
    UTC, both included), and everything they did since."""

    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise ConfigError(f"--from {self.start} is after --to {self.end}")

    def condition(self) -> ColumnElement[bool] | None:
        parts = []
        if self.start is not None:
            parts.append(Learner.created_at >= _naive(self.start))
        if self.end is not None:
            parts.append(Learner.created_at < _naive(self.end + timedelta(days=1)))
        return and_(*parts) if parts else None

    def describe(self) -> str:
        if self.start and self.end:
            return f"learners who first wrote from {self.start:%d %b %Y} to {self.end:%d %b %Y}"
        if self.start:
            return f"learners who first wrote on or after {self.start:%d %b %Y}"
        if self.end:
            return f"learners who first wrote on or before {self.end:%d %b %Y}"
        return "every learner so far"


def _naive(day: date) -> datetime:
    return datetime.combine(day, time(), UTC).replace(tzinfo=None)


def costs_table(costs: Costs, completed_courses: int, responses: int) -> Table:
    """Cost per completed course and per survey response. A count of 1 to 4 stays hidden, and
    so does the cost per it, which would give the count back."""

    def per(amount: float, n: int) -> Amount:
        return Amount(amount / n if n and count(n).shown else None)

    survey_cost = costs.surveys if costs.surveys is not None else costs.programme
    rows: tuple[tuple[Cell, ...], ...] = (
        ("completed_course", "Per completed course", Amount(costs.programme),
         count(completed_courses), per(costs.programme, completed_courses)),
        ("survey_response", "Per follow-up survey response", Amount(survey_cost),
         count(responses), per(survey_cost, responses)),
    )  # fmt: skip
    return Table(
        slug="costs",
        title=f"Cost per result ({costs.currency})",
        columns=(
            Column("result", "Result id", html=False),
            Column("result_label", "Result"),
            Column("cost", f"Cost ({costs.currency})"),
            Column("results", "Results"),
            Column("cost_per_result", f"Cost per result ({costs.currency})"),
        ),
        rows=rows,
    )


def seed_programme_table(reach: list[tuple[str, str, Share]], evidence: Evidence) -> Table:
    """Reach (by gender, youth, disability, minority and country), then outcomes at five
    months, in the rows the seed programme's 2022 report uses. `reach` is (id, label, share)
    as the rest of the report prints them, so their suppression is the same."""
    rows: list[tuple[Cell, ...]] = [("reach", key, label, share) for key, label, share in reach]
    invited = sum(v[0] for k, v in evidence.response.items() if k[0] == SEED_WAVE)
    answered = sum(v[1] for k, v in evidence.response.items() if k[0] == SEED_WAVE)
    rows.append(
        ("five_months", "response_rate", "Response rate", rate(count(answered), count(invited)))
    )
    for step in ("selling-online", "customers", "still-running", "two-step", "applied-scheme"):
        found = tally(evidence, SEED_WAVE, None, ITEM[step])
        rows.append(("five_months", step, ITEM[step].title, Share(count(found.yes), found.known)))
    known, said, _ = attributed(evidence, SEED_WAVE, None)
    rows.append(
        (
            "five_months",
            "attributed",
            "Say the lessons changed something",
            Share(count(said), known),
        )
    )
    return Table(
        slug="seed_programme_form",
        title="In the seed programme's form: reach, and outcomes at five months",
        columns=(
            Column("section", "Section id", html=False),
            Column("figure", "Figure id", html=False),
            Column("figure_label", "Figure"),
            Column("percent", "%"),
        ),
        rows=tuple(rows),
    )
