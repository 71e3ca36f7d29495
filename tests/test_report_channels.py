"""The report by channel: the learners_by_channel table, its suppression, and `--channel`.

One small programme on four channels, built row by row so that every expected count is
written down here, not computed by the report's own code.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.content import Library
from bot.report import commands, labels
from bot.report.build import ReportRefused, collect, write_report
from bot.report.privacy import HIDDEN, MIN_COUNT, SMALL
from bot.store import create_engine
from bot.store.models import AnonymousCount, AnswerRecord, Certificate, Learner, LessonProgress
from tests.test_report import NOW, ROOT, _learner, rows_of

# id ranges per channel: 20 on Telegram, 12 on WhatsApp, 6 on a channel the report doesn't
# know, 3 on LINE.
CHANNELS = {
    "telegram": range(1, 21),
    "whatsapp": range(21, 33),
    "signal": range(33, 39),
    "line": range(39, 42),
}
ERASED = 3


def _progress(learner: int, course: str, lesson: str, done: bool) -> dict[str, Any]:
    return {
        "learner_id": learner,
        "course": course,
        "lesson": lesson,
        "status": "completed" if done else "started",
        "score": 0,
        "total": 0,
        "started_at": NOW,
        "completed_at": NOW if done else None,
    }


def _answer(learner: int, value: str) -> dict[str, Any]:
    return {
        "learner_id": learner,
        "course": "follow-up",
        "lesson": "five-months-on",
        "step": "gained-customers",
        "value": value,
        "correct": None,
        "attempt": 1,
        "field": None,
        "created_at": NOW,
    }


def _certificate(learner: int, course: str) -> dict[str, Any]:
    return {
        # Unique, and within the column's 16 characters (PostgreSQL enforces them).
        "code": f"C{learner}-{zlib.crc32(course.encode()):08x}",
        "learner_id": learner,
        "course": course,
        "name": "x",
        "locale": "en",
        "issued_at": NOW,
    }


async def _programme(url: str, library: Library) -> AsyncEngine:
    """The four channels' learners, and how far each got (the expected counts per channel are
    in EXPECTED)."""
    course = library.course("digital-marketing")
    relief = library.course("relief")
    assert course is not None and relief is not None
    lessons = [lesson.id for lesson in course.lessons]
    people = [
        _learner(n, "ID" if n % 2 else "PH", channel=channel)
        for channel, ids in CHANNELS.items()
        for n in ids
    ]
    progress: list[dict[str, Any]] = []

    def finished(n: int, count: int) -> None:  # completed the first `count` lessons
        progress.extend(_progress(n, course.id, lesson, True) for lesson in lessons[:count])

    # Telegram: 1-6 completed the course (1 the relief course too), 7 all but the last lesson,
    # 8-12 the first lesson, 13-15 opened it; 16 only opened the survey (not a course).
    for n in range(1, 7):
        finished(n, len(lessons))
    progress.extend(_progress(1, relief.id, lesson.id, True) for lesson in relief.lessons)
    finished(7, len(lessons) - 1)
    for n in range(8, 13):
        finished(n, 1)
    progress += [_progress(n, course.id, lessons[0], False) for n in range(13, 16)]
    progress.append(_progress(16, "follow-up", "five-months-on", False))
    # WhatsApp: 21-22 completed the course, 23-28 the first lesson, 29-30 opened it.
    for n in (21, 22):
        finished(n, len(lessons))
    for n in range(23, 29):
        finished(n, 1)
    progress += [_progress(n, course.id, lessons[0], False) for n in (29, 30)]
    # LINE: 39 completed the first lesson, 40 opened it.
    finished(39, 1)
    progress.append(_progress(40, course.id, lessons[0], False))

    certificates = [_certificate(n, course.id) for n in (1, 2, 3, 4, 5, 6, 21, 22)]
    certificates.append(_certificate(1, relief.id))
    # Survey: Telegram 1-6, WhatsApp 21-25; 26 typed something instead (not an answer).
    answers = [_answer(n, "yes" if n % 3 else "no") for n in (*range(1, 7), *range(21, 26))]
    answers.append(_answer(26, "I typed this"))

    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(insert(Learner), people)
        await conn.execute(insert(LessonProgress), progress)
        await conn.execute(insert(Certificate), certificates)
        await conn.execute(insert(AnswerRecord), answers)
        await conn.execute(
            insert(AnonymousCount), [{"metric": "learners_erased", "key": "", "count": ERASED}]
        )
    return engine


# channel: learners, started a lesson, completed a lesson, completed a course, certificates,
# survey respondents (exact).
EXPECTED = {
    "telegram": (20, 15, 12, 6, 7, 6),
    "whatsapp": (12, 10, 8, 2, 2, 5),
    "signal": (6, 0, 0, 0, 0, 0),
    "line": (3, 2, 1, 0, 0, 0),
}
OUTCOMES = ("started_lesson", "completed_lesson", "completed_course", "certificates")
COLUMNS = ("learners", *OUTCOMES, "survey_respondents")


@pytest.fixture
async def programme(database_url: str, library: Library) -> AsyncIterator[AsyncEngine]:
    engine = await _programme(database_url, library)
    yield engine
    await engine.dispose()


async def test_exact_figures_per_channel(programme: AsyncEngine, library: Library) -> None:
    data = await collect(programme, library, NOW)
    assert data.breakdowns["channel"] == {c: v[0] for c, v in EXPECTED.items()}
    found = data.outcomes["channel"]
    for i, name in enumerate(COLUMNS[1:], start=1):
        assert {c: found[name].get(c, 0) for c in EXPECTED} == {
            c: v[i] for c, v in EXPECTED.items()
        }, name


async def test_channel_table_is_protected(
    programme: AsyncEngine, library: Library, tmp_path: Path
) -> None:
    await write_report(programme, library, tmp_path, NOW)
    rows = rows_of(tmp_path / "learners_by_channel.csv")
    assert list(rows[0]) == ["value", "channel", "learners", "percent", *COLUMNS[1:]]
    by_value = {row["value"]: row for row in rows[:-1]}
    assert [row["value"] for row in rows[:-1]] == ["telegram", "whatsapp", "signal", "line"]
    assert {v: row["channel"] for v, row in by_value.items()} == {
        "telegram": "Telegram",
        "whatsapp": "WhatsApp",
        "signal": "signal",  # unknown to the report: as stored
        "line": "LINE",
    }
    # LINE's 3 learners are "<5"; the next smallest (6) is hidden too, else 41 - 20 - 12 - 6.
    assert [by_value[c]["learners"] for c in EXPECTED] == ["20", "12", HIDDEN, SMALL]
    assert [by_value[c]["percent"] for c in EXPECTED] == ["49", "29", "", ""]
    assert [by_value[c]["started_lesson"] for c in EXPECTED] == ["15", HIDDEN, "0", SMALL]
    assert [by_value[c]["completed_lesson"] for c in EXPECTED] == ["12", HIDDEN, "0", SMALL]
    # WhatsApp's 2 course completions can't be Telegram's total minus 6: Telegram's is hidden.
    assert [by_value[c]["completed_course"] for c in EXPECTED] == [HIDDEN, SMALL, "0", "0"]
    assert [by_value[c]["certificates"] for c in EXPECTED] == [HIDDEN, SMALL, "0", "0"]
    assert [by_value[c]["survey_respondents"] for c in EXPECTED] == ["6", "5", "0", "0"]
    total = rows[-1]
    assert total["channel"] == "All learners"
    assert [total[k] for k in COLUMNS] == ["41", "27", "21", "8", "9", "11"]

    # Rule 2, column by column: none hidden, or at least two hidden of at least 5 together.
    for key, index in zip(COLUMNS, range(6), strict=True):
        hidden = [v[index] for c, v in EXPECTED.items() if not by_value[c][key].isdigit()]
        assert not hidden or (len(hidden) >= 2 and sum(hidden) >= MIN_COUNT), key

    # The totals are known elsewhere in the report, which is why each column is protected.
    headline = {row["figure"]: row["value"] for row in rows_of(tmp_path / "headline.csv")}
    assert headline["survey_respondents"] == total["survey_respondents"]
    assert headline["learners_reached"] == str(41 + ERASED)
    # The certificates per course add up to this table's total of 9: protected as a group.
    courses = rows_of(tmp_path / "courses.csv")
    assert [row["certificates"] for row in courses] == [HIDDEN, "0", SMALL]  # 8, 0, 1


async def test_channel_table_on_the_page(
    programme: AsyncEngine, library: Library, tmp_path: Path
) -> None:
    await write_report(programme, library, tmp_path, NOW)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    section = page.split("<h3>Channel</h3>")[1].split("</table>")[0]
    cells = [
        re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr.*?</tr>", section)
    ][1:]
    plain = [[re.sub(r"<[^>]+>", "", cell) for cell in row] for row in cells]
    assert plain == [
        ["Telegram", "20", "49%", "15", "12", "hidden", "hidden", "6"],
        ["WhatsApp", "12", "29%", "hidden", "hidden", "&lt;5", "&lt;5", "5"],
        ["signal", "hidden", "", "0", "0", "0", "0", "0"],
        ["LINE", "&lt;5", "", "&lt;5", "&lt;5", "0", "0", "0"],
        ["All learners", "41", "", "27", "21", "8", "9", "11"],
    ]
    assert "<th>Channel</th>" in section and "Survey respondents</th>" in section


async def test_report_of_one_channel(
    programme: AsyncEngine, library: Library, tmp_path: Path
) -> None:
    written = await write_report(programme, library, tmp_path, NOW, channel="whatsapp")
    assert tmp_path / "erased.csv" not in written  # erased learners have no channel
    country = rows_of(tmp_path / "learners_by_country.csv")
    assert {r["value"]: r["learners"] for r in country} == {"ID": "6", "PH": "6", "": "12"}
    channel = rows_of(tmp_path / "learners_by_channel.csv")
    assert [(r["value"], r["learners"], r["started_lesson"]) for r in channel] == [
        ("whatsapp", "12", "10"),
        ("", "12", "10"),
    ]
    courses = {r["course"]: r for r in rows_of(tmp_path / "courses.csv")}
    assert courses["digital-marketing"]["started"] == "10"
    assert courses["digital-marketing"]["completed"] == SMALL  # 21 and 22
    assert courses["relief"]["started"] == "0"  # only Telegram's learner 1 took it
    funnel = [r for r in rows_of(tmp_path / "funnel.csv") if r["course"] == "digital-marketing"]
    assert [r["learners"] for r in funnel[:3]] == ["10", "8", SMALL]
    headline = {row["figure"]: row["value"] for row in rows_of(tmp_path / "headline.csv")}
    assert headline["learners_reached"] == "12"  # no erased learners added
    assert headline["survey_respondents"] == "5"
    survey = {
        r["answer"]: r["learners"]
        for r in rows_of(tmp_path / "survey.csv")
        if r["step"] == "gained-customers"
    }
    assert survey == {"yes": SMALL, "no": SMALL, "skip": "0", "": "5"}  # 21-25: 3 yes, 2 no
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<h1>LessonBot impact report: WhatsApp</h1>" in page
    assert "Only the learners who use the bot on WhatsApp" in page
    assert 'href="erased.csv"' not in page


async def test_one_channel_figures_are_that_channels(
    programme: AsyncEngine, library: Library
) -> None:
    """The figures of Telegram's and WhatsApp's reports, against those of the full report: what
    is left is the two small channels' (6 learners without progress, and LINE's 3)."""
    full = await collect(programme, library, NOW)
    parts = [await collect(programme, library, NOW, channel=c) for c in ("telegram", "whatsapp")]
    assert [p.learners for p in parts] == [20, 12] and full.learners == 41
    started = [{f.course: f.started for f in data.funnels} for data in (full, *parts)]
    assert [s["digital-marketing"] for s in started] == [27, 15, 10]
    assert [s["relief"] for s in started] == [1, 1, 0]
    assert [data.certificates for data in (full, *parts)] == [
        {"digital-marketing": 8, "relief": 1},
        {"digital-marketing": 6, "relief": 1},
        {"digital-marketing": 2},
    ]
    assert [data.surveys[0].respondents for data in (full, *parts)] == [11, 6, 5]
    # Lessons left unfinished: Telegram's 13-15 and 16 (the survey), WhatsApp's 29-30, LINE's 40.
    assert [sum(s.learners for s in data.stops) for data in (full, *parts)] == [7, 4, 2]
    assert [sum(data.weekly.new_learners.values()) for data in (full, *parts)] == [41, 20, 12]
    assert [data.breakdowns["gender"] for data in parts] == [
        {"woman": 14, "man": 6},  # n % 3 == 0 are men: 3, 6, ..., 18
        {"woman": 8, "man": 4},  # 21, 24, 27, 30
    ]
    assert all(p.erased == {} for p in parts) and full.erased == {("learners_erased", ""): 3}


@pytest.mark.parametrize(
    ("channel", "why"),
    [
        ("line", "fewer than 5 learners on LINE"),
        ("signal", "the full report hides how many learners are on signal"),
        ("messenger", "no learners on channel 'messenger' (there are: line, signal, "),
    ],
)
async def test_a_channel_the_full_report_hides_gets_no_report(
    programme: AsyncEngine, library: Library, tmp_path: Path, channel: str, why: str
) -> None:
    with pytest.raises(ReportRefused, match=re.escape(why)):
        await write_report(programme, library, tmp_path / "out", NOW, channel=channel)
    assert not (tmp_path / "out").exists()


async def test_report_command_takes_a_channel_name(
    programme: AsyncEngine, library: Library, database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, lessons_dir=str(ROOT / "lessons"))
    assert await commands.report(settings, tmp_path / "wa", "WhatsApp") == 0
    rows = rows_of(tmp_path / "wa" / "learners_by_channel.csv")
    assert rows[0]["value"] == "whatsapp"
    with pytest.raises(ReportRefused, match="LINE"):
        await commands.report(settings, tmp_path / "line", "line")
    assert labels.channel_code(" Terminal ") == "console"
    assert labels.channel_code("LINE") == "line" and labels.channel_code("viber") == "viber"
