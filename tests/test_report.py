"""The impact report: its figures checked against the raw rows, its privacy rules, its page.

The big fixture generates 10,000 demo learners into a real SQLite file and writes the report
once; the tests then recompute figures straight from the rows (plain sqlite3 and Python, none
of the report's code) and compare them with what the queries returned and with the CSV files.
"""

from __future__ import annotations

import asyncio
import csv
import os
import re
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import closing
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.content import Library, load_library
from bot.report import demo
from bot.report.build import collect, reader, write_report
from bot.report.privacy import FLAGS, HIDDEN, SMALL, Count, percent, protect
from bot.report.stats import stats_text
from bot.store import create_engine, upgrade
from bot.store.models import AnswerRecord, Certificate, Learner, LessonProgress
from tests.databases import needs_postgres
from tests.demo_reports import DemoReport, demo_report

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 22, 12, 0)


Built = DemoReport


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def printed_rows_of(path: Path) -> list[dict[str, str]]:
    """A CSV's rows with each hidden cell as the page prints it ("<5", "hidden"), from its
    `<name>_flag` column, and without the flag columns (tests/test_report_csv.py checks those)."""
    printed = {flag: symbol for symbol, flag in FLAGS.items()}
    return [
        {
            key: printed.get(row.get(f"{key}_flag", ""), value)
            for key, value in row.items()
            if not (key.endswith("_flag") and key.removesuffix("_flag") in row)
        }
        for row in rows_of(path)
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, library: Library) -> Built:
    return demo_report(tmp_path_factory.mktemp("report"), library, 10_000, seed=3)


@pytest.fixture
def raw(built: Built) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(built.db)
    yield conn
    conn.close()


# -- the figures, recomputed from the rows ------------------------------------------------------


def test_learners_by_country(built: Built, raw: sqlite3.Connection) -> None:
    expected = dict(raw.execute("SELECT country, count(*) FROM learners GROUP BY country"))
    assert built.data.breakdowns["country"] == expected
    assert sum(expected.values()) == 10_000
    shown = {
        row["value"] or None: row["learners"]
        for row in rows_of(built.out / "learners_by_country.csv")
        if row["country"] != "All learners"
    }
    assert shown == {k: str(v) for k, v in expected.items()}
    total = rows_of(built.out / "learners_by_country.csv")[-1]
    assert (total["country"], total["learners"]) == ("All learners", "10000")


def test_learners_by_channel(built: Built, raw: sqlite3.Connection, library: Library) -> None:
    """The demo's learners are on Telegram and WhatsApp; how far each channel's got, from the
    rows: lessons of listed courses, every lesson of a course, certificates, survey answers."""
    channel = dict(raw.execute("SELECT id, channel FROM learners"))
    learners = Counter(channel.values())
    assert set(learners) == {"telegram", "whatsapp"} and sum(learners.values()) == 10_000
    assert 0.3 < learners["whatsapp"] / 10_000 < 0.42
    listed = {c.id: {lesson.id for lesson in c.lessons} for c in library.courses if c.course.listed}
    started: set[int] = set()
    completed: dict[tuple[int, str], set[str]] = defaultdict(set)
    for learner, course, lesson, status in raw.execute(
        "SELECT learner_id, course, lesson, status FROM progress"
    ):
        if course in listed:
            started.add(learner)
            if status == "completed":
                completed[(learner, course)].add(lesson)
    one_lesson = {learner for learner, _ in completed}
    one_course = {
        learner for (learner, course), done in completed.items() if listed[course] <= done
    }
    certificates = Counter(
        channel[learner]
        for learner, course in raw.execute("SELECT learner_id, course FROM certificates")
        if course in listed
    )
    respondents = {
        learner
        for (learner,) in raw.execute(
            "SELECT DISTINCT learner_id FROM answers WHERE course = 'follow-up' AND lesson = "
            "'check-in'"
        )
    }
    expected = {
        c: {
            "learners": learners[c],
            "started_lesson": sum(1 for n in started if channel[n] == c),
            "completed_lesson": sum(1 for n in one_lesson if channel[n] == c),
            "completed_course": sum(1 for n in one_course if channel[n] == c),
            "certificates": certificates[c],
            "survey_respondents": sum(1 for n in respondents if channel[n] == c),
        }
        for c in ("telegram", "whatsapp")
    }
    rows = printed_rows_of(built.out / "learners_by_channel.csv")
    shown = {row.pop("value"): row for row in rows}
    assert [shown[c].pop("channel") for c in ("telegram", "whatsapp", "")] == [
        "Telegram",
        "WhatsApp",
        "All learners",
    ]
    for c in ("telegram", "whatsapp"):
        assert shown[c].pop("percent") == str(percent(learners[c], 10_000))
        assert shown[c] == {k: str(v) for k, v in expected[c].items()}, c
    assert shown[""]["certificates"] == str(sum(certificates.values()))
    headline = {row["figure"]: row["value"] for row in rows_of(built.out / "headline.csv")}
    assert shown[""]["survey_respondents"] == headline["survey_respondents"]
    page = (built.out / "report.html").read_text(encoding="utf-8")
    assert (
        "<h3>Channel</h3>" in page
        and f'<td>WhatsApp</td><td class="num">{learners["whatsapp"]:,}<' in page
    )


def test_share_of_women_and_youth(built: Built, raw: sqlite3.Connection) -> None:
    genders = Counter(dict(raw.execute("SELECT gender, count(*) FROM learners GROUP BY gender")))
    answered = genders["woman"] + genders["man"] + genders["other"]
    women = round(100 * genders["woman"] / answered)
    assert 55 <= women <= 65  # the demo's mix: about 60% women
    ages = Counter(dict(raw.execute("SELECT age_group, count(*) FROM learners GROUP BY 1")))
    told = sum(n for age, n in ages.items() if age not in (None, "skip"))
    youth = round(100 * (ages["15-24"] + ages["18-24"] + ages["25-35"]) / told)
    headline = {row["figure"]: row["value"] for row in rows_of(built.out / "headline.csv")}
    assert headline["women_percent"] == str(women)
    assert headline["youth_percent"] == str(youth)
    erased = raw.execute("SELECT count FROM anonymous_counts WHERE metric = 'learners_erased'")
    assert headline["learners_reached"] == str(10_000 + erased.fetchone()[0])


def test_course_funnel(built: Built, raw: sqlite3.Connection, library: Library) -> None:
    course = library.course("digital-marketing")
    assert course is not None
    lessons = [lesson.id for lesson in course.lessons]
    done: dict[int, set[str]] = defaultdict(set)
    started: set[int] = set()
    for learner, lesson, status in raw.execute(
        "SELECT learner_id, lesson, status FROM progress WHERE course = ?", (course.id,)
    ):
        started.add(learner)
        if status == "completed":
            done[learner].add(lesson)
    through = [
        sum(1 for got in done.values() if set(lessons[:i]) <= got)
        for i in range(1, len(lessons) + 1)
    ]
    funnel = next(f for f in built.data.funnels if f.course == course.id)
    assert (funnel.started, list(funnel.through)) == (len(started), through)
    assert through[0] > through[2] > through[-1] > 0  # it thins out lesson by lesson
    csv_rows = {
        int(row["step"]): row
        for row in rows_of(built.out / "funnel.csv")
        if row["course"] == course.id
    }
    assert csv_rows[0]["learners"] == str(len(started))
    assert csv_rows[2]["learners"] == str(through[1])
    assert csv_rows[2]["percent"] == str(percent(through[1], len(started)))
    assert csv_rows[len(lessons)]["learners"] == str(through[-1])


def test_quiz_accuracy_counts_first_tries(built: Built, raw: sqlite3.Connection) -> None:
    key = ("online-safety", "spot-the-scam", "quiz-otp")
    first: dict[int, bool] = {}
    for learner, correct in raw.execute(
        "SELECT learner_id, correct FROM answers WHERE course = ? AND lesson = ? AND step = ?"
        " AND attempt = 1 ORDER BY id",
        key,
    ):
        first.setdefault(learner, bool(correct))
    right = sum(first.values())
    result = next(q for q in built.data.quiz if (q.course, q.lesson, q.step) == key)
    assert (result.answered, result.correct) == (len(first), right)
    row = next(
        r for r in rows_of(built.out / "quiz.csv") if (r["course"], r["lesson"], r["step"]) == key
    )
    assert (row["answered"], row["right"]) == (str(len(first)), str(right))
    assert row["percent"] == str(percent(right, len(first)))
    retries = raw.execute("SELECT count(*) FROM answers WHERE attempt > 1").fetchone()[0]
    assert retries > 0  # wrong first tries were retried, and those don't count


def test_survey_outcome(built: Built, raw: sqlite3.Connection) -> None:
    latest: dict[int, str] = {}
    for learner, value in raw.execute(
        "SELECT learner_id, value FROM answers WHERE course = 'follow-up' AND "
        "lesson = 'check-in' AND step = 'selling-online' ORDER BY id"
    ):
        latest[learner] = value
    counts = Counter(latest.values())
    base = counts["yes"] + counts["no"]  # "skip" is shown but not in the base
    survey = next(s for s in built.data.surveys if s.lesson == "check-in")
    assert survey.answers["selling-online"] == dict(counts)
    rows = {
        r["answer"]: r
        for r in rows_of(built.out / "survey.csv")
        if (r["lesson"], r["step"]) == ("check-in", "selling-online")
    }
    assert rows["yes"]["learners"] == str(counts["yes"])
    assert rows["skip"]["learners"] == str(counts["skip"]) and rows["skip"]["percent"] == ""
    assert rows["yes"]["percent"] == str(percent(counts["yes"], base))
    assert 50 <= percent(counts["yes"], base) <= 70  # the demo's 45% at baseline, and gains
    respondents = raw.execute(
        "SELECT count(DISTINCT learner_id) FROM answers "
        "WHERE course = 'follow-up' AND lesson = 'check-in'"
    ).fetchone()[0]
    headline = {row["figure"]: row["value"] for row in rows_of(built.out / "headline.csv")}
    assert headline["survey_respondents"] == str(respondents) == str(survey.respondents)


def test_drop_off_is_the_last_step_seen(built: Built, raw: sqlite3.Connection) -> None:
    lesson = ("digital-marketing", "where-customers-are")
    last: dict[int, str] = {}
    for learner, step in raw.execute(
        "SELECT learner_id, step FROM events WHERE name = 'step_shown' AND course = ? AND "
        "lesson = ? ORDER BY id",
        lesson,
    ):
        last[learner] = step
    unfinished = {
        r[0]
        for r in raw.execute(
            "SELECT learner_id FROM progress WHERE course = ? AND lesson = ? AND status = "
            "'started'",
            lesson,
        )
    }
    expected = Counter(last[learner] for learner in unfinished if learner in last)
    found = {s.step: s.learners for s in built.data.stops if (s.course, s.lesson) == lesson}
    assert found == dict(expected)
    rows = {
        r["step"]: r["learners"]
        for r in rows_of(built.out / "drop_off.csv")
        if (r["course"], r["lesson"]) == lesson and r["step"]
    }
    top_step, top = expected.most_common(1)[0]
    assert rows[top_step] == str(top)


def test_new_learners_per_iso_week(built: Built, raw: sqlite3.Connection) -> None:
    weeks: Counter[str] = Counter()
    for (created,) in raw.execute("SELECT created_at FROM learners"):
        year, week, _ = datetime.fromisoformat(created).isocalendar()
        weeks[f"{year}-W{week:02d}"] += 1
    rows = {r["week"]: r for r in rows_of(built.out / "weekly.csv")}
    shown = {w: r["new_learners"] for w, r in rows.items() if r["new_learners"].isdigit()}
    assert len(shown) >= 38  # 40 weeks of sign-ups; the first, partial week may be small
    assert all(int(n) == weeks[w] for w, n in shown.items())
    assert sum(weeks.values()) == 10_000
    monday = date.fromisoformat(next(iter(rows.values()))["week_start"])
    assert monday.weekday() == 0


# -- privacy ----------------------------------------------------------------------------------


def test_protect_hides_small_cells_and_one_more() -> None:
    def shown(values: list[int]) -> list[str]:
        return [c.html() for c in protect(values)]

    assert shown([100, 40, 7]) == ["100", "40", "7"]
    assert shown([100, 40, 3]) == ["100", HIDDEN, SMALL]  # 40 can't be 143 - 100 - x
    assert shown([100, 3, 2]) == ["100", SMALL, SMALL]  # together 5: a range, not a count
    assert shown([100, 1, 1, 0]) == [HIDDEN, SMALL, SMALL, "0"]
    assert shown([3]) == [SMALL]
    assert Count(3, SMALL).html() == "<5"


async def _small_db(path: Path) -> AsyncEngine:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    return engine


def _learner(n: int, country: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "id": n,
        "channel": "telegram",
        "external_id": str(1000 + n),
        "first_name": "",
        "locale": "en",
        "country": country,
        "status": "active",
        "state": {},
        "tags": [],
        "created_at": NOW - timedelta(days=n % 20),
        "last_active_at": NOW,
        "consent": "yes",
        "gender": "woman" if n % 3 else "man",
        "age_group": "25-35",
        "business": "food",
        "disability": "no",
        "minority": "no",
        **extra,
    }


async def test_small_groups_show_as_less_than_five(tmp_path: Path, library: Library) -> None:
    engine = await _small_db(tmp_path / "small.db")
    people = (
        [_learner(n, "ID") for n in range(1, 21)]
        + [_learner(n, "PH") for n in range(21, 33)]
        + [_learner(n, "TH") for n in range(33, 36)]
    )
    async with engine.begin() as conn:
        await conn.execute(insert(Learner), people)
    await write_report(engine, library, tmp_path / "out", NOW)
    await engine.dispose()
    rows = {r["value"]: r for r in printed_rows_of(tmp_path / "out" / "learners_by_country.csv")}
    assert rows["TH"]["learners"] == "<5" and rows["TH"]["percent"] == "<5"  # as its count
    assert rows["PH"]["learners"] == "hidden"  # else 35 - 20 - 12 would give Thailand's 3
    assert rows["ID"]["learners"] == "20" and rows["ID"]["percent"] == str(percent(20, 35))
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "&lt;5" in page
    assert ">3<" not in page.split("Country</h3>")[1].split("</table>")[0]


async def test_learner_text_never_reaches_the_report(tmp_path: Path, library: Library) -> None:
    secrets = [
        "Zyxwvut Secretname",
        "MY-TYPED-SHOP-4242",
        "Printed Certificate Name",
        "typed instead of a button",
    ]
    engine = await _small_db(tmp_path / "text.db")
    people = [_learner(n, "VN", first_name=secrets[0]) for n in range(1, 8)]
    async with engine.begin() as conn:
        await conn.execute(insert(Learner), people)
        await conn.execute(
            insert(AnswerRecord),
            [
                {
                    "learner_id": n,
                    "course": "digital-marketing",
                    "lesson": "where-customers-are",
                    "step": "ask-business",
                    "value": secrets[1],
                    "correct": None,
                    "attempt": 1,
                    "field": "business_type",
                    "created_at": NOW,
                }
                for n in range(1, 8)
            ]
            + [
                {
                    "learner_id": n,
                    "course": "follow-up",
                    "lesson": "check-in",
                    "step": "still-running",
                    "value": secrets[3],
                    "correct": None,
                    "attempt": 1,
                    "field": None,
                    "created_at": NOW,
                }
                for n in range(1, 8)
            ],
        )
        await conn.execute(
            insert(LessonProgress),
            [
                {
                    "learner_id": n,
                    "course": "digital-marketing",
                    "lesson": "where-customers-are",
                    "status": "completed",
                    "score": 1,
                    "total": 1,
                    "started_at": NOW,
                    "completed_at": NOW,
                }
                for n in range(1, 8)
            ],
        )
        await conn.execute(
            insert(Certificate),
            [
                {
                    "code": f"ABCD-EFG{n}",
                    "learner_id": n,
                    "course": "digital-marketing",
                    "name": secrets[2],
                    "locale": "en",
                    "issued_at": NOW,
                }
                for n in range(1, 8)
            ],
        )
    written = await write_report(engine, library, tmp_path / "out", NOW)
    await engine.dispose()
    assert len(written) > 10
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert not [s for s in secrets if s.lower() in text.lower()], path.name


def test_page_is_self_contained(built: Built) -> None:
    page = (built.out / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 7
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "@import" not in page
    for written in built.out.iterdir():  # demo names stand in for what learners type
        text = written.read_text(encoding="utf-8")
        assert "Demo 1" not in text and "Demo Learner" not in text, written.name
        assert "tailoring" not in text and "phone cases" not in text, written.name
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", page)
    assert links and all(not re.match(r"(?i)(https?:)?//", link) for link in links)
    assert all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", page))
    for heading in (
        "Reach",
        "Who the learners are",
        "Courses",
        "Where learners stop",
        "Quiz questions",
        "Follow-up survey",
        "How to read this report",
    ):
        assert f"<h2>{heading}</h2>" in page


async def test_report_reads_while_the_bot_writes(built: Built, library: Library) -> None:
    with closing(sqlite3.connect(built.db, isolation_level=None)) as bot:
        bot.execute("BEGIN IMMEDIATE")  # what the bot's engine holds while it handles an update
        bot.execute("UPDATE learners SET locale = locale WHERE id = 1")
        engine = reader(f"sqlite+aiosqlite:///{built.db}")
        try:
            data = await asyncio.wait_for(collect(engine, library, NOW), timeout=20)
        finally:
            await engine.dispose()
        bot.execute("ROLLBACK")
    assert data.learners == built.data.learners


async def test_rerun_writes_the_same_bytes(built: Built, tmp_path: Path, library: Library) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{built.db}")
    await write_report(engine, library, tmp_path, NOW)
    await engine.dispose()
    for name in ("report.html", "quiz.csv", "weekly.csv"):
        assert (tmp_path / name).read_bytes() == (built.out / name).read_bytes(), name


async def test_question_text_is_escaped(tmp_path: Path) -> None:
    course = tmp_path / "lessons" / "tiny"
    course.mkdir(parents=True)
    (course / "course.yaml").write_text(
        "version: 1\nkind: course\nid: tiny\ntitle: Tiny & small\ndescription: A test.\n"
        "lessons: [one]\n",
        encoding="utf-8",
    )
    (course / "one.yaml").write_text(
        "version: 1\nkind: lesson\nid: one\ntitle: One\nminutes: 1\nsteps:\n"
        "  - id: q\n    type: question\n"
        "    text: Is <b>this</b> &lt;script&gt;alert(1)&lt;/script&gt; safe?\n"
        "    options:\n      - {id: a, label: 'Yes'}\n      - {id: b, label: 'No'}\n"
        "    correct: b\n  - id: done\n    type: end\n    text: Bye.\n",
        encoding="utf-8",
    )
    library, problems = load_library(tmp_path / "lessons")
    assert not [p for p in problems if p.severity == "error"], problems
    engine = await _small_db(tmp_path / "esc.db")
    async with engine.begin() as conn:
        await conn.execute(insert(Learner), [_learner(n, "MY") for n in range(1, 9)])
        await conn.execute(
            insert(AnswerRecord),
            [
                {
                    "learner_id": n,
                    "course": "tiny",
                    "lesson": "one",
                    "step": "q",
                    "value": "b" if n % 2 else "a",
                    "correct": bool(n % 2),
                    "attempt": 1,
                    "field": None,
                    "created_at": NOW,
                }
                for n in range(1, 9)
            ],
        )
    await write_report(engine, library, tmp_path / "out", NOW)
    await engine.dispose()
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Is this &lt;script&gt;alert(1)&lt;/script&gt; safe?" in page
    assert "<script" not in page
    assert "Tiny &amp; small" in page
    quiz = rows_of(tmp_path / "out" / "quiz.csv")
    assert quiz[0]["question"] == "Is this <script>alert(1)</script> safe?"  # CSV: plain text


# -- the admin summary ------------------------------------------------------------------------


async def test_stats_text(built: Built, library: Library, raw: sqlite3.Connection) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{built.db}")
    text = await stats_text(engine, library, NOW)
    empty = await _small_db(Path(str(built.db) + ".empty"))
    nothing = await stats_text(empty, library, NOW)
    await engine.dispose()
    await empty.dispose()
    since = (NOW - timedelta(days=7)).isoformat(" ")
    active = raw.execute(
        "SELECT count(*) FROM learners WHERE last_active_at >= ?", (since,)
    ).fetchone()[0]
    new = raw.execute("SELECT count(*) FROM learners WHERE created_at >= ?", (since,)).fetchone()[0]
    assert 0 < len(text) < 1500
    assert "Learners: <b>10,000</b>" in text
    assert f"active in the last 7 days: {active:,}" in text
    assert f"new in the last 7 days: {new:,}" in text
    assert "sell online" in text and "Most often left unfinished at" in text
    assert set(re.findall(r"</?(\w+)", text)) <= {"b", "i"}
    assert "Learners: <b>0</b>" in nothing and "No unfinished lessons" in nothing


# -- demo data --------------------------------------------------------------------------------


async def test_demo_is_reproducible_and_refuses_real_databases(
    tmp_path: Path, library: Library
) -> None:
    engine = await _small_db(tmp_path / "d.db")
    first = await demo.generate(engine, library, 300, seed=5, now=NOW)
    again = await demo.generate(engine, library, 300, seed=5, now=NOW)  # replaces, not adds
    assert first == again and first.learners == 300
    async with engine.begin() as conn:
        await conn.execute(insert(Learner), [_learner(5000, "ID")])
    with pytest.raises(demo.DemoRefused, match="real learner"):
        await demo.generate(engine, library, 10, seed=1, now=NOW)
    forced = await demo.generate(engine, library, 10, seed=1, now=NOW, force=True)
    await engine.dispose()
    assert forced.learners == 10
    with closing(sqlite3.connect(tmp_path / "d.db")) as conn:
        assert conn.execute("SELECT count(*) FROM learners").fetchone()[0] == 11
        real = "SELECT id FROM learners WHERE external_id NOT LIKE 'demo-%'"
        assert conn.execute(real).fetchall() == [(5000,)]
    assert first.channels == {"telegram": 197, "whatsapp": 103}
    assert sum(forced.channels.values()) == 10


async def test_demo_replaces_demo_learners_of_before(tmp_path: Path, library: Library) -> None:
    """Demo learners used to have channel "demo": a new run replaces them, it isn't refused."""
    engine = await _small_db(tmp_path / "old.db")
    async with engine.begin() as conn:
        await conn.execute(
            insert(Learner),
            [_learner(n, "ID", channel="demo", external_id=f"demo-{n}") for n in (1, 2)],
        )
    made = await demo.generate(engine, library, 20, seed=1, now=NOW)
    await engine.dispose()
    assert made.learners == 20
    with closing(sqlite3.connect(tmp_path / "old.db")) as conn:
        assert conn.execute("SELECT count(*) FROM learners WHERE channel = 'demo'").fetchone() == (
            0,
        )


# -- the command line -------------------------------------------------------------------------


def _lessonbot(
    tmp_path: Path, *args: str, importtime: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        "LESSONS_DIR": str(ROOT / "lessons"),
        "PYTHONPATH": str(ROOT),
    }
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run(
        [sys.executable, *flags, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def test_cli_demo_data_then_report(tmp_path: Path) -> None:
    made = _lessonbot(tmp_path, "demo-data", "--learners", "400", "--seed", "2")
    assert made.returncode == 0, made.stderr
    assert "400 demo learners" in made.stdout
    result = _lessonbot(tmp_path, "report", "--out", str(tmp_path / "out"), importtime=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert str(tmp_path / "out" / "report.html") in result.stdout.splitlines()
    assert (tmp_path / "out" / "courses.csv").is_file()
    assert not re.findall(r"(?im)\b(aiogram|telegram)\b", result.stderr)
    assert "Traceback" not in result.stderr


def test_cli_demo_data_refuses_a_real_database(tmp_path: Path) -> None:
    assert _lessonbot(tmp_path, "demo-data", "--learners", "3").returncode == 0
    with closing(sqlite3.connect(tmp_path / "x.db")) as conn, conn:
        conn.execute("UPDATE learners SET external_id = '424242' WHERE id = 1")  # a real id
    refused = _lessonbot(tmp_path, "demo-data", "--learners", "3")
    assert refused.returncode == 2
    assert "real learner" in refused.stderr and "--force" in refused.stderr


# -- PostgreSQL -------------------------------------------------------------------------------


@needs_postgres
async def test_postgresql_gives_the_same_figures(
    tmp_path: Path, library: Library, database_url: str
) -> None:
    """The same demo data on both backends: every figure, weeks included, must agree."""
    figures = []
    for url in (f"sqlite+aiosqlite:///{tmp_path / 'same.db'}", database_url):
        engine = create_engine(url)
        await upgrade(engine)
        await demo.generate(engine, library, 1500, seed=4, now=NOW, force=True)
        data = await collect(engine, library, NOW)
        await engine.dispose()
        figures.append(
            {
                **vars(data),
                "stops": sorted(map(repr, data.stops)),
                "quiz": sorted(map(repr, data.quiz)),
            }
        )
    assert figures[0] == figures[1]
