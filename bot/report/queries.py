"""The report's figures, each computed by the database as an aggregate.

A programme database can hold 250,000 learners and millions of answers and events, so nothing
here loads rows per learner into Python: every function sends one or a few GROUP BY queries and
gets back a handful of numbers. The numbers are exact; hiding small counts is `privacy`'s job.

Everything is SQLAlchemy Core and runs on SQLite and PostgreSQL. The only dialect-specific piece
is the start of an ISO week (`week_start`).

Every figure can be narrowed to some learners (`who`, a condition on `Learner`, such as
`Learner.channel == "whatsapp"`); without it the queries are exactly the unnarrowed ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    distinct,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.expression import Executable, Select

from bot.content.library import Library, LoadedCourse
from bot.content.model import QuestionStep, SurveyStep
from bot.store.models import (
    QUOTA_WAIT,
    AnonymousCount,
    AnswerRecord,
    Certificate,
    EventRecord,
    Learner,
    LessonProgress,
    OutboxRow,
)

Source = AsyncEngine | AsyncConnection
Who = ColumnElement[bool] | None  # which learners the figures are about; None: all of them

# The learner columns the report breaks reach down by. NULL means "not given" (country) or "not
# asked" (the profile, which is asked only with consent).
DIMENSIONS = (
    "country",
    "channel",
    "locale",
    "consent",
    "gender",
    "age_group",
    "business",
    "disability",
    "minority",
)
YOUTH = ("15-24", "18-24", "25-35")  # 15-24 from before the bands matched the 18–35 youth band
# The breakdowns that also show how far learners got (`outcomes`), not only how many they are.
OUTCOME_DIMENSIONS = ("channel",)
OUTCOMES = (
    "started_lesson",  # learners with progress in a lesson of a listed course
    "completed_lesson",  # learners who completed at least one such lesson
    "completed_course",  # learners who completed every lesson of at least one listed course
    "certificates",  # certificates issued for listed courses
    "survey_respondents",  # learners who answered the follow-up survey (as `survey` counts)
)


async def _rows(source: Source, query: Executable) -> list[tuple[Any, ...]]:
    if isinstance(source, AsyncConnection):
        return [tuple(row) for row in await source.execute(query)]
    async with source.connect() as conn:
        return [tuple(row) for row in await conn.execute(query)]


async def _scalar(source: Source, query: Executable) -> int:
    rows = await _rows(source, query)
    return int(rows[0][0] or 0) if rows else 0


def _learners(who: Who) -> list[ColumnElement[bool]]:
    """The WHERE clause of a query on `Learner` itself."""
    return [] if who is None else [who]


def _of(learner_id: Any, who: Who) -> list[ColumnElement[bool]]:
    """The WHERE clause of a query on rows that belong to a learner (`learner_id`)."""
    return [] if who is None else [learner_id.in_(select(Learner.id).where(who))]


def _dimension(dimension: str) -> Any:
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    return getattr(Learner, dimension)


def listed_courses(library: Library) -> list[LoadedCourse]:
    """The courses funnels are about: the follow-up survey (unlisted) is not one."""
    return [c for c in library.courses if c.course.listed]


# -- reach ------------------------------------------------------------------------------------


async def learner_count(source: Source, *, who: Who = None) -> int:
    return await _scalar(source, select(func.count()).select_from(Learner).where(*_learners(who)))


async def breakdown(source: Source, dimension: str, *, who: Who = None) -> dict[str | None, int]:
    """Learners per value of one learner column, e.g. {"ID": 2301, "PH": 1720, None: 98}."""
    column = _dimension(dimension)
    query = select(column, func.count()).where(*_learners(who)).group_by(column)
    return {value: int(n) for value, n in await _rows(source, query)}


async def outcomes(
    source: Source,
    library: Library,
    dimension: str,
    survey_lesson: tuple[str, str],
    *,
    who: Who = None,
) -> dict[str, dict[str | None, int]]:
    """How far learners got, per value of one learner column: {outcome: {value: count}}.

    The outcomes are `OUTCOMES`, each defined as the report defines it elsewhere, so that each
    one's values add up to the total the rest of the report knows: a course is completed when
    all its lessons are (as in `funnel`); respondents answered a known option of a question of
    `survey_lesson` (as in `survey`). Three GROUP BY queries: progress, certificates, answers.
    """
    column = _dimension(dimension)
    c, a = Certificate, AnswerRecord
    listed = [course.id for course in listed_courses(library)]
    courses = [course for course in listed_courses(library) if course.lessons]

    async def per_value(query: Any, learner_id: Any) -> dict[str | None, int]:
        query = query.join(Learner, Learner.id == learner_id).where(*_learners(who))
        return {value: int(n) for value, n in await _rows(source, query.group_by(column))}

    found: dict[str, dict[str | None, int]] = {
        "started_lesson": {},
        "completed_lesson": {},
        "completed_course": {},
    }
    if courses:
        query = _progress_flags(column, courses).where(*_learners(who))
        for value, started, lesson, course in await _rows(source, query.group_by(column)):
            found["started_lesson"][value] = int(started)
            found["completed_lesson"][value] = int(lesson or 0)
            found["completed_course"][value] = int(course or 0)
    found["certificates"] = await per_value(
        select(column, func.count()).select_from(c).where(c.course.in_(listed)), c.learner_id
    )
    steps = [step for cid, lid, step in survey_steps(library) if (cid, lid) == survey_lesson]
    found["survey_respondents"] = await per_value(
        select(column, func.count(distinct(a.learner_id)))
        .select_from(a)
        .where(a.course == survey_lesson[0], a.lesson == survey_lesson[1], _known_answers(steps)),
        a.learner_id,
    )
    return {name: found[name] for name in OUTCOMES}


async def erased(source: Source) -> dict[tuple[str, str], int]:
    """What learners who erased their data left behind: {(metric, key): count}."""
    query = select(AnonymousCount.metric, AnonymousCount.key, AnonymousCount.count)
    return {(metric, key): int(n) for metric, key, n in await _rows(source, query)}


def _progress_flags(column: Any, courses: list[LoadedCourse]) -> Select[Any]:
    """Per value of `column`: learners who started, completed a lesson, completed a course.

    One pass over progress in its key's order (learner, course, lesson): per learner, the
    completed rows, and per course those of its lessons; a course is completed when all its
    lessons are, as in `funnel`. Then per value, the learners and how many have each flag.
    """
    p = LessonProgress
    completed = p.status == "completed"
    per_learner = (
        select(
            p.learner_id,
            func.sum(case((completed, 1), else_=0)).label("done"),
            *[
                func.sum(
                    case(
                        (
                            and_(
                                p.course == course.id,
                                completed,
                                p.lesson.in_([lesson.id for lesson in course.lessons]),
                            ),
                            1,
                        ),
                        else_=0,
                    )
                ).label(f"c{i}")
                for i, course in enumerate(courses)
            ],
        )
        .where(p.course.in_([course.id for course in courses]))
        .group_by(p.learner_id)
        .subquery()
    )
    any_course = or_(
        false(),
        *[per_learner.c[f"c{i}"] == len(course.lessons) for i, course in enumerate(courses)],
    )
    return (
        select(
            column,
            func.count(),
            func.sum(case((per_learner.c.done > 0, 1), else_=0)),
            func.sum(case((any_course, 1), else_=0)),
        )
        .select_from(per_learner)
        .join(Learner, Learner.id == per_learner.c.learner_id)
    )


# -- broadcasts -------------------------------------------------------------------------------

# What became of broadcast messages, per channel of their recipients (`broadcasts_by_channel`).
# Each figure is a condition on an outbox row (one row: one recipient of one broadcast).
BROADCAST_FIGURES = (
    "queued",  # every row
    "sent",
    "delivered",  # of the sent, those the platform's receipt says arrived (or were read)
    "read",  # of the sent, those the receipt says were read
    "skipped",  # the channel's rules allowed no message (NotAllowed); not a cancellation's
    "waiting",  # pending because a quota of the channel is used up (OverQuota)
    "not_yet_sent",  # pending or being sent for another reason: not tried yet, a retry, quiet hours
    "cancelled",  # rows of a broadcast cancelled before they went
    "failed",
    "blocked",
)
# An OverQuota leaves its row `pending`, its reason in `last_error` after QUOTA_WAIT and
# `next_attempt_at` at the time the quota frees (bot.broadcast.sender).
CANCELLED = "cancelled"  # the reason `Outbox.cancel` gives the rows it skips
# The reminders and survey invitations a channel's rules refused (NotAllowed): the follow-ups
# worker keeps each as an event of the learner (bot.journey.followups, `_not_sent`).
NOT_SENT_EVENTS = ("reminder_not_sent", "survey_not_sent")


@dataclass(frozen=True)
class Messages:
    """Messages, and the learners they were for: a count of messages to one learner is theirs."""

    messages: int
    learners: int


def _broadcast_conditions() -> dict[str, ColumnElement[bool]]:
    o = OutboxRow
    sent = o.status == "sent"
    reason = func.coalesce(o.last_error, "")  # NULL would make `~quota` NULL too
    quota = and_(o.status == "pending", reason.startswith(QUOTA_WAIT, autoescape=True))
    cancelled = and_(o.status == "skipped", func.coalesce(o.last_error, "") == CANCELLED)
    conditions = {
        "queued": true(),
        "sent": sent,
        "delivered": and_(sent, o.receipt.in_(("delivered", "read"))),
        "read": and_(sent, o.receipt == "read"),
        "skipped": and_(o.status == "skipped", ~cancelled),
        "waiting": quota,
        "not_yet_sent": and_(o.status.in_(("pending", "sending")), ~quota),
        "cancelled": cancelled,
        "failed": o.status == "failed",
        "blocked": o.status == "blocked",
    }
    return {name: conditions[name] for name in BROADCAST_FIGURES}


async def broadcasts_by_channel(
    source: Source, *, who: Who = None
) -> dict[str, dict[str, Messages]]:
    """Broadcast messages per channel of their recipients: {channel: {figure: Messages}}.

    One GROUP BY over the outbox joined to its learners: per figure of `BROADCAST_FIGURES`, the
    rows and the distinct learners they were for. A learner erased with /delete takes their
    rows along (the outbox row cascades), as they leave every other table.
    """
    o = OutboxRow
    columns: list[Any] = []
    for condition in _broadcast_conditions().values():
        columns.append(func.coalesce(func.sum(case((condition, 1), else_=0)), 0))
        columns.append(func.count(distinct(case((condition, o.learner_id)))))
    query = (
        select(Learner.channel, *columns)
        .select_from(o)
        .join(Learner, Learner.id == o.learner_id)
        .where(*_learners(who))
        .group_by(Learner.channel)
    )
    found: dict[str, dict[str, Messages]] = {}
    for channel, *numbers in await _rows(source, query):
        found[str(channel)] = {
            name: Messages(int(numbers[2 * i] or 0), int(numbers[2 * i + 1] or 0))
            for i, name in enumerate(BROADCAST_FIGURES)
        }
    return found


async def follow_ups_not_sent(source: Source, *, who: Who = None) -> dict[str, dict[str, Messages]]:
    """Reminders and survey invitations the channel's rules refused, per channel of the
    learner: {channel: {event name: Messages}} (the names of `NOT_SENT_EVENTS`)."""
    e = EventRecord
    query = (
        select(Learner.channel, e.name, func.count(), func.count(distinct(e.learner_id)))
        .select_from(e)
        .join(Learner, Learner.id == e.learner_id)
        .where(e.name.in_(NOT_SENT_EVENTS), *_learners(who))
        .group_by(Learner.channel, e.name)
    )
    found: dict[str, dict[str, Messages]] = {}
    for channel, name, n, learners in await _rows(source, query):
        found.setdefault(str(channel), {})[str(name)] = Messages(int(n), int(learners))
    return found


# -- courses ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Funnel:
    course: str
    lessons: tuple[str, ...]  # in library order
    started: int  # learners with progress in any lesson of the course
    through: tuple[int, ...]  # through[i]: learners who completed lessons 1..i+1, all of them

    @property
    def completed(self) -> int:
        """Learners who completed every lesson of the course."""
        return self.through[-1] if self.through else 0


async def funnel(source: Source, course: LoadedCourse, *, who: Who = None) -> Funnel:
    """One query: per learner, a 0/1 flag per lesson; then sums of running products."""
    p = LessonProgress
    lessons = tuple(lesson.id for lesson in course.lessons)
    if not lessons:
        return Funnel(course.id, (), 0, ())
    flags = [
        func.max(case((and_(p.lesson == lid, p.status == "completed"), 1), else_=0)).label(f"c{i}")
        for i, lid in enumerate(lessons)
    ]
    per_learner = (
        select(*flags)
        .where(p.course == course.id, p.lesson.in_(lessons), *_of(p.learner_id, who))
        .group_by(p.learner_id)
        .subquery()
    )
    running: ColumnElement[Any] | None = None
    sums = []
    for i in range(len(lessons)):
        flag = per_learner.c[f"c{i}"]
        running = flag if running is None else running * flag
        sums.append(func.coalesce(func.sum(running), 0))
    row = (await _rows(source, select(func.count(), *sums).select_from(per_learner)))[0]
    return Funnel(course.id, lessons, int(row[0]), tuple(int(n) for n in row[1:]))


async def funnels(source: Source, library: Library, *, who: Who = None) -> list[Funnel]:
    return [await funnel(source, course, who=who) for course in listed_courses(library)]


async def certificates_by_course(source: Source, *, who: Who = None) -> dict[str, int]:
    c = Certificate
    query = select(c.course, func.count()).where(*_of(c.learner_id, who)).group_by(c.course)
    return {course: int(n) for course, n in await _rows(source, query)}


@dataclass(frozen=True)
class Stop:
    """Learners whose unfinished lesson was last seen at `step` ("" if no step was recorded)."""

    course: str
    lesson: str
    step: str
    learners: int


async def drop_offs(source: Source, *, who: Who = None) -> list[Stop]:
    """For every started-not-completed lesson, the step of its latest `step_shown` event.

    "Latest" is the event with the highest id for that learner and lesson: a correlated
    max(id) subquery, which both backends answer from the index on events.learner_id.
    """
    p, e = LessonProgress, EventRecord
    last_seen = (
        select(func.max(e.id))
        .where(
            e.learner_id == p.learner_id,
            e.course == p.course,
            e.lesson == p.lesson,
            e.name == "step_shown",
        )
        .correlate(p)
        .scalar_subquery()
    )
    stuck = (
        select(p.course, p.lesson, last_seen.label("event_id"))
        .where(p.status == "started", *_of(p.learner_id, who))
        .subquery()
    )
    step = func.coalesce(e.step, "")
    query = (
        select(stuck.c.course, stuck.c.lesson, step, func.count())
        .select_from(stuck.outerjoin(e, e.id == stuck.c.event_id))
        .group_by(stuck.c.course, stuck.c.lesson, step)
    )
    return [
        Stop(course, lesson, str(step_id), int(n))
        for course, lesson, step_id, n in await _rows(source, query)
    ]


@dataclass(frozen=True)
class QuizResult:
    course: str
    lesson: str
    step: str
    answered: int  # learners who answered it
    correct: int  # of them, right at their first try


async def quiz(source: Source, *, who: Who = None) -> list[QuizResult]:
    """Accuracy per quiz question, first attempts only.

    A learner who repeats a lesson answers its questions again at attempt 1; only their first
    such answer (the lowest id) counts, so each learner counts once per question.
    """
    a = AnswerRecord
    first = (
        select(func.min(a.id).label("id"))
        .where(a.attempt == 1, a.correct.is_not(None), *_of(a.learner_id, who))
        .group_by(a.learner_id, a.course, a.lesson, a.step)
        .subquery()
    )
    right = func.sum(case((a.correct == true(), 1), else_=0))
    query = (
        select(a.course, a.lesson, a.step, func.count(), right)
        .join(first, first.c.id == a.id)
        .group_by(a.course, a.lesson, a.step)
    )
    return [
        QuizResult(course, lesson, step, int(n), int(ok or 0))
        for course, lesson, step, n, ok in await _rows(source, query)
    ]


def question_steps(library: Library) -> list[tuple[str, str, QuestionStep]]:
    """(course, lesson, question) for every quiz question of the listed courses."""
    return [
        (course.id, lesson.id, step)
        for course in listed_courses(library)
        for lesson in course.lessons
        for step in lesson.steps
        if isinstance(step, QuestionStep)
    ]


# -- follow-up survey -------------------------------------------------------------------------


@dataclass(frozen=True)
class Survey:
    course: str
    lesson: str
    respondents: int  # learners who answered at least one question
    answers: dict[str, dict[str, int]]  # step -> option id -> learners (their latest answer)


def survey_steps(library: Library) -> list[tuple[str, str, SurveyStep]]:
    """(course, lesson, step) of every multiple-choice survey question of unlisted courses."""
    return [
        (course.id, lesson.id, step)
        for course in library.courses
        if not course.course.listed
        for lesson in course.lessons
        for step in lesson.steps
        if isinstance(step, SurveyStep) and step.kind == "choice" and step.options
    ]


def _known_answers(steps: list[SurveyStep]) -> ColumnElement[bool]:
    """An answer to one of `steps` that is one of its options (never what a learner typed)."""
    a = AnswerRecord
    return or_(
        false(),
        *[
            and_(a.step == step.id, a.value.in_([o.id for o in step.options or ()]))
            for step in steps
        ],
    )


async def survey(source: Source, library: Library, *, who: Who = None) -> list[Survey]:
    """Per survey lesson: respondents and, per question, the learners choosing each option.

    Only option ids the lesson defines are read back, never what a learner may have typed. A
    learner who answered twice counts with their latest answer.
    """
    a = AnswerRecord
    by_lesson: dict[tuple[str, str], list[SurveyStep]] = {}
    for course_id, lesson_id, step in survey_steps(library):
        by_lesson.setdefault((course_id, lesson_id), []).append(step)
    found = []
    for (course_id, lesson_id), steps in by_lesson.items():
        here = and_(a.course == course_id, a.lesson == lesson_id, *_of(a.learner_id, who))
        known = _known_answers(steps)
        latest = (
            select(func.max(a.id).label("id"))
            .where(here, known)
            .group_by(a.learner_id, a.step)
            .subquery()
        )
        query = (
            select(a.step, a.value, func.count())
            .join(latest, latest.c.id == a.id)
            .group_by(a.step, a.value)
        )
        answers: dict[str, dict[str, int]] = {step.id: {} for step in steps}
        for step_id, value, n in await _rows(source, query):
            answers[step_id][value] = int(n)
        respondents = await _scalar(
            source, select(func.count(distinct(a.learner_id))).where(here, known)
        )
        found.append(Survey(course_id, lesson_id, respondents, answers))
    return found


# -- over time --------------------------------------------------------------------------------


def week_start(column: Any, dialect: str) -> ColumnElement[Any]:
    """The Monday that starts `column`'s ISO week, as a date (PostgreSQL) or 'YYYY-MM-DD'.

    Literal SQL arguments, not bind parameters: PostgreSQL only matches a GROUP BY expression to
    the SELECT one when they are written identically, and two parameters are not.
    """
    if dialect == "postgresql":
        return func.date(func.date_trunc(literal_column("'week'"), column))
    # SQLite: forward to Sunday (or stay on it), then back six days.
    return func.date(column, literal_column("'weekday 0'"), literal_column("'-6 days'"))


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


async def per_week(source: Source, column: Any, *where: ColumnElement[bool]) -> dict[date, int]:
    """Rows per ISO week of `column` (a datetime column), keyed by the week's Monday."""
    week = week_start(column, source.dialect.name)
    query = select(week, func.count()).where(column.is_not(None), *where).group_by(week)
    return {_as_date(monday): int(n) for monday, n in await _rows(source, query)}


@dataclass(frozen=True)
class Weekly:
    new_learners: dict[date, int]
    lessons_completed: dict[date, int]
    certificates: dict[date, int]


async def weekly(source: Source, library: Library, *, who: Who = None) -> Weekly:
    p, c = LessonProgress, Certificate
    listed = [course.id for course in listed_courses(library)]
    return Weekly(
        new_learners=await per_week(source, Learner.created_at, *_learners(who)),
        lessons_completed=await per_week(
            source,
            p.completed_at,
            p.status == "completed",
            p.course.in_(listed),
            *_of(p.learner_id, who),
        ),
        certificates=await per_week(source, c.issued_at, *_of(c.learner_id, who)),
    )


# -- the admin summary ------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    learners: int
    active: int  # last active at or after `since`
    new: int  # created at or after `since`
    lessons_completed: int
    lessons_completed_recently: int


async def activity(source: Source, library: Library, since: datetime) -> Activity:
    p = LessonProgress
    recent_active = func.coalesce(func.sum(case((Learner.last_active_at >= since, 1), else_=0)), 0)
    recent_new = func.coalesce(func.sum(case((Learner.created_at >= since, 1), else_=0)), 0)
    people = (
        await _rows(source, select(func.count(), recent_active, recent_new).select_from(Learner))
    )[0]
    recent_done = func.coalesce(func.sum(case((p.completed_at >= since, 1), else_=0)), 0)
    listed = [c.id for c in listed_courses(library)]
    lessons = (
        await _rows(
            source,
            select(func.count(), recent_done).where(p.status == "completed", p.course.in_(listed)),
        )
    )[0]
    return Activity(
        int(people[0]), int(people[1]), int(people[2]), int(lessons[0]), int(lessons[1])
    )
