"""The report by channel: the learners_by_channel table, its suppression, `--channel`, and the
broadcast messages by channel (broadcasts_by_channel).

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
from bot.store.models import (
    QUOTA_WAIT,
    AnonymousCount,
    AnswerRecord,
    Broadcast,
    Certificate,
    EventRecord,
    Learner,
    LessonProgress,
    OutboxRow,
)
from tests.test_report import NOW, ROOT, _learner
from tests.test_report import printed_rows_of as rows_of  # hidden cells read "<5", "hidden"

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
        "lesson": "check-in",
        "step": "still-running",
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
    progress.append(_progress(16, "follow-up", "check-in", False))
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
    assert [by_value[c]["percent"] for c in EXPECTED] == ["49", "29", HIDDEN, SMALL]  # as theirs
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
    assert [row["certificates"] for row in courses] == [HIDDEN, "0", "0", SMALL]  # 8, 0, 0, 1


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
        if (r["lesson"], r["step"]) == ("check-in", "still-running")
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
    check_ins = [next(s for s in d.surveys if s.lesson == "check-in") for d in (full, *parts)]
    assert [survey.respondents for survey in check_ins] == [11, 6, 5]
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


# -- broadcast messages by channel --------------------------------------------------------------

# What the channels say when they refuse or hold a message (bot/channels/*: NotAllowed and
# OverQuota, which the sender marks with QUOTA_WAIT), and a retry's reasons, which are not a quota.
NO_TEMPLATE = "outside the 24 h window, no template for `broadcast` in `en`"
MESSENGER_WINDOW = "outside Messenger's 24 h window nothing may be sent: recurring ..."
WA_TIER = QUOTA_WAIT + "the number's messaging tier of 250 users per 24 h is used up"
LINE_API_QUOTA = QUOTA_WAIT + "LINE 429: You have reached your monthly limit."
LINE_QUOTA = (
    QUOTA_WAIT + "LINE's monthly message quota (200) is used up; pushes go again from 2026-12-01"
)
ZALO_QUOTA = (
    QUOTA_WAIT + "the OA's 2 proactive messages this month are used up (ZALO_PROACTIVE_MONTHLY)"
)
RETRY = "Telegram asked to retry after 3.0s"
FLAKY = "HTTP 502 with a body that is not a Bot API answer: b''"
# Besides the programme's: 8 learners on Messenger, 6 on Zalo.
MORE = {"messenger": range(42, 50), "zalo": range(50, 56)}


def _row(
    broadcast: int,
    learner: int,
    status: str,
    error: str | None = None,
    receipt: str | None = None,
) -> dict[str, Any]:
    return {
        "broadcast_id": broadcast,
        "learner_id": learner,
        "status": status,
        "attempts": 1 if status in ("sent", "failed", "blocked") else 0,
        "next_attempt_at": NOW,
        "claimed_at": None,
        "owner": None,
        "last_error": error,
        "message_id": None,
        "platform_id": f"m{broadcast}-{learner}" if receipt else None,
        "receipt": receipt,
        "sent_at": NOW if status == "sent" else None,
    }


def _event(learner: int | None, name: str) -> dict[str, Any]:
    return {
        "learner_id": learner,
        "name": name,
        "course": "digital-marketing",
        "lesson": "",
        "data": {"reason": NO_TEMPLATE},
        "created_at": NOW,
    }


async def _broadcasts(engine: AsyncEngine) -> None:
    """Two broadcasts to the programme and the learners of MORE, with every status; the
    expected counts per channel are in BROADCASTS."""
    rows: list[dict[str, Any]] = []
    # Telegram: broadcast 1 to 1-20: 1-12 sent, 13-14 failed, 15-16 blocked, 17-18 not tried
    # yet, 19 waits out a 429 and 20 a 502 (retries, not a quota); broadcast 2 cancelled
    # before 11 got it (1-10 sent).
    rows += [_row(1, n, "sent") for n in range(1, 13)]
    rows += [_row(1, n, "failed", "Forbidden: chat not found") for n in (13, 14)]
    rows += [_row(1, n, "blocked", "Forbidden: bot was blocked by the user") for n in (15, 16)]
    rows += [_row(1, 17, "pending"), _row(1, 18, "sending"), _row(1, 19, "pending", RETRY)]
    rows.append(_row(1, 20, "pending", FLAKY))
    rows += [_row(2, n, "sent") for n in range(1, 11)] + [_row(2, 11, "skipped", "cancelled")]
    # WhatsApp: broadcast 1 to 21-32: 21-23 read, 24-26 delivered, 27 only "sent", 28 no
    # receipt yet; 29-30 no template; 31-32 over the tier. Broadcast 2: 21-26 read.
    rows += [_row(1, n, "sent", receipt="read") for n in (21, 22, 23)]
    rows += [_row(1, n, "sent", receipt="delivered") for n in (24, 25, 26)]
    rows += [_row(1, 27, "sent", receipt="sent"), _row(1, 28, "sent")]
    rows += [_row(1, n, "skipped", NO_TEMPLATE) for n in (29, 30)]
    rows += [_row(1, n, "pending", WA_TIER) for n in (31, 32)]
    rows += [_row(2, n, "sent", receipt="read") for n in range(21, 27)]
    # Messenger: 42-46 sent (42-44 delivered), 47-49 outside the window.
    rows += [_row(1, n, "sent", receipt="delivered" if n < 45 else None) for n in range(42, 47)]
    rows += [_row(1, n, "skipped", MESSENGER_WINDOW) for n in (47, 48, 49)]
    # LINE (3 learners, 6 messages): 39 sent; 40-41 over the quota, then 39-41 again.
    rows += [_row(1, 39, "sent")] + [_row(1, n, "pending", LINE_API_QUOTA) for n in (40, 41)]
    rows += [_row(2, n, "pending", LINE_QUOTA) for n in (39, 40, 41)]
    # Zalo: 50 read, 51 delivered, 52-55 over the allowance.
    rows += [_row(1, 50, "sent", receipt="read"), _row(1, 51, "sent", receipt="delivered")]
    rows += [_row(1, n, "pending", ZALO_QUOTA) for n in range(52, 56)]
    events = [_event(n, "reminder_not_sent") for n in range(27, 33)]  # WhatsApp: 6
    events += [_event(n, "reminder_not_sent") for n in (47, 48, 49)]  # Messenger: 3
    events.append(_event(29, "survey_not_sent"))  # WhatsApp
    events.append(_event(None, "reminder_not_sent"))  # an erased learner's: no channel
    events.append(_event(1, "step_shown"))  # not a refusal
    broadcast: dict[str, Any] = {
        "name": "news",
        "message": {},
        "segment": {},
        "status": "sending",
        "created_by": "admin",
        "notify_chat": None,
        "created_at": NOW,
        "finished_at": None,
        "photo_id": None,
    }
    async with engine.begin() as conn:
        await conn.execute(
            insert(Learner),
            [_learner(n, "PH", channel=c) for c, ids in MORE.items() for n in ids],
        )
        await conn.execute(insert(Broadcast), [{**broadcast, "id": 1}, {**broadcast, "id": 2}])
        await conn.execute(insert(OutboxRow), rows)
        await conn.execute(insert(EventRecord), events)


# channel: messages (exact) queued, sent, delivered, read, skipped, waiting, not yet sent,
# cancelled, failed, blocked; reminders and survey invitations not sent. None: no receipts.
BROADCASTS = {
    "telegram": (31, 22, None, None, 0, 0, 4, 1, 2, 2, 0, 0),
    "whatsapp": (18, 14, 12, 9, 2, 2, 0, 0, 0, 0, 6, 1),
    "messenger": (8, 5, 3, None, 3, 0, 0, 0, 0, 0, 3, 0),
    "line": (6, 1, None, None, 0, 5, 0, 0, 0, 0, 0, 0),
    "zalo": (6, 2, 2, 1, 0, 4, 0, 0, 0, 0, 0, 0),
}
FIGURES = (
    "queued",
    "sent",
    "delivered",
    "read",
    "skipped",
    "waiting",
    "not_yet_sent",
    "cancelled",
    "failed",
    "blocked",
    "reminders_not_sent",
    "survey_invitations_not_sent",
)


async def test_broadcast_figures_per_channel(programme: AsyncEngine, library: Library) -> None:
    await _broadcasts(programme)
    data = await collect(programme, library, NOW)
    assert set(data.broadcasts) == set(BROADCASTS)
    for channel, expected in BROADCASTS.items():
        found = data.broadcasts[channel]
        assert [found[name].messages for name in FIGURES[:10]] == [n or 0 for n in expected[:10]]
    # The learners the messages were for: what decides whether a count is shown.
    assert data.broadcasts["line"]["queued"].learners == 3
    assert data.broadcasts["line"]["waiting"].learners == 3  # 5 messages, 3 learners
    assert data.broadcasts["whatsapp"]["read"].learners == 6  # 21-23 once, 24-26 once
    assert data.broadcasts["telegram"]["sent"].learners == 12
    assert {c: {e: n.messages for e, n in f.items()} for c, f in data.not_sent.items()} == {
        "whatsapp": {"reminder_not_sent": 6, "survey_not_sent": 1},
        "messenger": {"reminder_not_sent": 3},
    }
    # A report of one channel counts that channel's messages only.
    whatsapp = await collect(programme, library, NOW, channel="whatsapp")
    assert list(whatsapp.broadcasts) == ["whatsapp"] and list(whatsapp.not_sent) == ["whatsapp"]
    assert whatsapp.broadcasts["whatsapp"] == data.broadcasts["whatsapp"]


async def test_broadcast_table_is_protected(
    programme: AsyncEngine, library: Library, tmp_path: Path
) -> None:
    await _broadcasts(programme)
    written = await write_report(programme, library, tmp_path, NOW)
    assert tmp_path / "broadcasts_by_channel.csv" in written
    rows = rows_of(tmp_path / "broadcasts_by_channel.csv")
    assert list(rows[0]) == ["value", "channel", *FIGURES]
    # The most messages first (queued, and follow-ups refused); LINE before Zalo on a tie.
    assert [row["value"] for row in rows] == [*BROADCASTS, ""]
    by_value = {row["value"]: [row[k] for k in FIGURES] for row in rows}
    h, s, _ = HIDDEN, SMALL, ""
    assert by_value == {
        # Its small failures etc. hide one another: 4 hidden cells of 9 learners in the row.
        "telegram": ["31", "22", _, _, "0", "0", s, s, s, s, "0", "0"],
        # 2 skipped and 2 waiting are 4 learners: the 14 sent are hidden too, else 18 - 14.
        # In the column, Messenger's 3 and Zalo's 2 delivered protect each other.
        "whatsapp": ["18", h, "12", h, s, s, "0", "0", "0", "0", h, s],
        "messenger": ["8", h, s, _, s, "0", "0", "0", "0", "0", s, "0"],
        # 6 messages, but to 3 learners: hidden; so is Zalo's 6, else 69 - 31 - 18 - 8.
        "line": [h, s, _, _, "0", h, "0", "0", "0", "0", "0", "0"],
        "zalo": [h, s, s, s, "0", s, "0", "0", "0", "0", "0", "0"],
        "": ["69", "44", "17", "10", "5", "11", s, s, s, s, "9", s],
    }
    assert rows[-1]["channel"] == "All channels"
    names = ["Telegram", "WhatsApp", "Messenger", "LINE", "Zalo"]
    assert [r["channel"] for r in rows[:-1]] == names

    # Rule 2 on the exact figures: in every column and every row whose cells add up to a
    # total, none is hidden, or at least two are, of at least 5 learners together.
    data = await collect(programme, library, NOW)
    learners = {c: {k: n.learners for k, n in f.items()} for c, f in data.broadcasts.items()}
    for key in ("queued", "sent", "delivered", "read", "skipped", "waiting"):
        out = [c for c in BROADCASTS if by_value[c][FIGURES.index(key)] in (h, s)]
        assert not out or (len(out) >= 2 and sum(learners[c][key] for c in out) >= MIN_COUNT)
    parts = ("sent", "skipped", "waiting", "not_yet_sent", "cancelled", "failed", "blocked")
    for channel in ("telegram", "whatsapp", "messenger", "zalo"):  # LINE's total is hidden
        out = [k for k in parts if by_value[channel][FIGURES.index(k)] in (h, s)]
        assert not out or (len(out) >= 2 and sum(learners[channel][k] for k in out) >= 5)

    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    section = page.split("<h3>Broadcast messages by channel</h3>")[1].split("</table>")[0]
    assert "Messenger sends nothing outside its 24-hour window" in section
    assert "they go when it frees" in section
    cells = [
        re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr.*?</tr>", section)
    ][1:]
    plain = [[re.sub(r"<[^>]+>", "", cell) for cell in row] for row in cells]
    assert plain[0] == ["Telegram", "31", "22", "", "", "0", "0", *["&lt;5"] * 4, "0", "0"]
    assert plain[-1][:6] == ["All channels", "69", "44", "17", "10", "5"]
    assert 'href="broadcasts_by_channel.csv"' in page


async def test_broadcast_table_of_one_channel(
    programme: AsyncEngine, library: Library, tmp_path: Path
) -> None:
    await _broadcasts(programme)
    await write_report(programme, library, tmp_path, NOW, channel="whatsapp")
    rows = rows_of(tmp_path / "broadcasts_by_channel.csv")
    assert [[row[k] for k in ("value", *FIGURES)] for row in rows] == [
        ["whatsapp", "18", HIDDEN, "12", "9", SMALL, SMALL, *["0"] * 4, "6", SMALL],
        ["", "18", HIDDEN, "12", "9", SMALL, SMALL, *["0"] * 4, "6", SMALL],
    ]


async def test_no_broadcasts_yet(programme: AsyncEngine, library: Library, tmp_path: Path) -> None:
    await write_report(programme, library, tmp_path, NOW)
    rows = rows_of(tmp_path / "broadcasts_by_channel.csv")
    assert rows == [
        {"value": "", "channel": "All channels", **dict.fromkeys(FIGURES, "0")}
        | {"delivered": "", "read": ""}
    ]
