"""What a programme brings to `lessonbot report`: a period, a name, a costs file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.content import Library
from bot.errors import ConfigError
from bot.report.programme import Period, load_costs
from tests.demo_reports import demo_report
from tests.test_report import rows_of

NOW = datetime(2026, 11, 22, 12, 0)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory, library: Library) -> Path:
    return demo_report(tmp_path_factory.mktemp("programme"), library, 1500, seed=4).db


def _report(database: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{database}", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "bot", "report", "--out", str(out), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        check=False,
    )


def test_a_period_reports_the_learners_who_first_wrote_in_it(
    database: Path, tmp_path: Path
) -> None:
    done = _report(database, tmp_path, "--from", "2026-03-01", "--to", "2026-06-30")
    assert done.returncode == 0, done.stderr
    with closing(sqlite3.connect(database)) as raw:
        [(expected,)] = raw.execute(
            "SELECT count(*) FROM learners WHERE created_at >= '2026-03-01' "
            "AND created_at < '2026-07-01'"
        ).fetchall()
    headline = {r["figure"]: r["value"] for r in rows_of(tmp_path / "headline.csv")}
    assert headline["learners_reached"] == str(expected)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "who first wrote from 01 Mar 2026 to 30 Jun 2026" in page


def test_costs_give_the_cost_per_result(database: Path, tmp_path: Path) -> None:
    costs = tmp_path / "costs.yaml"
    costs.write_text("currency: USD\nprogramme: 12000\nsurveys: 800\n")
    done = _report(database, tmp_path / "out", "--costs", str(costs), "--programme", "Go Digital")
    assert done.returncode == 0, done.stderr
    rows = {r["result"]: r for r in rows_of(tmp_path / "out" / "costs.csv")}
    completed = int(rows["completed_course"]["results"])
    answered = int(rows["survey_response"]["results"])
    assert float(rows["completed_course"]["cost_per_result"]) == pytest.approx(
        12000 / completed, abs=0.005
    )
    assert float(rows["survey_response"]["cost_per_result"]) == pytest.approx(
        800 / answered, abs=0.005
    )
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Go Digital" in page


def test_a_broken_costs_file_says_where_and_how_to_fix_it(tmp_path: Path) -> None:
    broken = tmp_path / "costs.yaml"
    broken.write_text("currency: USD\nprogramme: [12000\n")
    with pytest.raises(ConfigError, match=r"costs.yaml:\d+:\d+: not valid YAML"):
        load_costs(broken)
    broken.write_text("currency: USD\nprogram: 12000\n")
    with pytest.raises(ConfigError, match=r"programme: Field required.*Expected, for example"):
        load_costs(broken)
    with pytest.raises(ConfigError, match="cannot read the costs file"):
        load_costs(tmp_path / "missing.yaml")


def test_the_command_line_refuses_a_bad_period(database: Path, tmp_path: Path) -> None:
    done = _report(database, tmp_path, "--from", "2026-06-01", "--to", "2026-05-01")
    assert done.returncode == 2 and "--from 2026-06-01 is after --to 2026-05-01" in done.stderr
    done = _report(database, tmp_path, "--from", "June")
    assert done.returncode == 2 and "is not a date like" in done.stderr
    with pytest.raises(ConfigError):
        Period(date(2026, 6, 1), date(2026, 5, 1))
