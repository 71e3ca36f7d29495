"""A short admin summary for the Telegram chat: how the programme is doing this week.

Admins are programme staff, so the numbers are exact (no "<5"); still only counts, never a
learner. The text is Telegram HTML in English, like the other admin texts, and stays well
under Telegram's 4096 characters however many courses there are.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.content.library import Library
from bot.report import labels, queries
from bot.report.build import snapshot
from bot.report.privacy import percent
from bot.report.tables import FOLLOW_UP, SELLING_ONLINE

MAX_COURSES = 5


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


async def stats_text(engine: AsyncEngine, library: Library, now: datetime) -> str:
    """The summary, from one consistent read.

    On SQLite, pass `bot.report.build.reader(url)` rather than the bot's own engine: the bot's
    engine takes the write lock for every transaction, and at 250,000 learners these queries
    take a few seconds.
    """
    now = _naive(now)
    since = now - timedelta(days=7)
    async with snapshot(engine) as conn:
        activity = await queries.activity(conn, library, since)
        funnels = await queries.funnels(conn, library)
        surveys = await queries.survey(conn, library)
        stops = await queries.drop_offs(conn)
    lines = [
        f"<b>LessonBot in numbers, {now:%d %b %Y %H:%M} UTC</b>",
        "",
        f"👥 Learners: <b>{activity.learners:,}</b>",
        f"    active in the last 7 days: {activity.active:,}",
        f"    new in the last 7 days: {activity.new:,}",
        f"📘 Lessons completed: <b>{activity.lessons_completed:,}</b> "
        f"({activity.lessons_completed_recently:,} in the last 7 days)",
        f"🎓 Courses completed: <b>{sum(f.completed for f in funnels):,}</b>",
    ]
    for f in sorted(funnels, key=lambda f: -f.completed)[:MAX_COURSES]:
        title = labels.plain(labels.course_title(library, f.course), 40)
        lines.append(f"    {escape(title)}: {f.completed:,} of {f.started:,} who started")
    survey = next((s for s in surveys if (s.course, s.lesson) == FOLLOW_UP), None)
    respondents = survey.respondents if survey else 0
    line = f"📝 Survey respondents: <b>{respondents:,}</b>"
    answers = survey.answers.get(SELLING_ONLINE, {}) if survey else {}
    base = sum(n for value, n in answers.items() if value != "skip")
    if base:
        line += f" ({percent(answers.get('yes', 0), base)}% sell online)"
    lines.append(line)
    lines.append(_top_stop(library, stops))
    return "\n".join(lines)


def _top_stop(library: Library, stops: list[queries.Stop]) -> str:
    listed = {c.id for c in queries.listed_courses(library)}
    candidates = [s for s in stops if s.course in listed and s.step]
    if not candidates:
        return "🚧 No unfinished lessons."
    top = max(candidates, key=lambda s: (s.learners, s.course, s.lesson, s.step))
    lesson = library.lesson(top.course, top.lesson)
    where = f"step “{escape(top.step)}”"
    index = lesson.index_of(top.step) if lesson else None
    if lesson is not None and index is not None:
        where = f"step {index + 1} of {len(lesson.steps)} (“{escape(top.step)}”)"
    title = labels.lesson_title(library, top.course, top.lesson)
    return (
        f"🚧 Most often left unfinished at: <i>{escape(title)}</i>, {where}: "
        f"{top.learners:,} learners"
    )
