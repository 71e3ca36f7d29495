"""The report's tables: exact figures in, protected and labelled cells out.

Both the HTML page and the CSV files print these same `Table` objects, so the two can never
disagree, and suppression happens in exactly one place. Each additive group (cells that add up
to a total someone can know) goes through `privacy.protect` as a whole.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar

from bot.content.library import Library, LoadedLesson
from bot.content.model import SurveyStep
from bot.content.surveys import CHECK_IN, SURVEY_COURSE
from bot.report import labels
from bot.report.cells import Cell as Cell  # re-exported: the page and the CSVs print them
from bot.report.cells import Column as Column
from bot.report.cells import Table as Table
from bot.report.evidence import BASELINE_WAVE, Evidence
from bot.report.evidence_tables import evidence_tables, rate
from bot.report.privacy import (
    HIDDEN,
    MIN_COUNT,
    SMALL,
    Count,
    Share,
    base_without,
    count,
    protect,
    protect_map,
)
from bot.report.programme import Costs, Period, costs_table, seed_programme_table
from bot.report.queries import (
    BROADCAST_FIGURES,
    NOT_SENT_EVENTS,
    OUTCOMES,
    YOUTH,
    Funnel,
    Messages,
    QuizResult,
    Stop,
    Survey,
    Weekly,
    question_steps,
    survey_steps,
)

FOLLOW_UP = (SURVEY_COURSE, CHECK_IN)
SELLING_ONLINE = "selling-online"
SKIP = "skip"


@dataclass(frozen=True)
class Figure:
    """One headline number."""

    key: str
    label: str
    value: Count | Share
    note: str = ""


@dataclass(frozen=True)
class ReportData:
    """Every exact figure the report is made from (see `queries`)."""

    generated: datetime
    learners: int
    breakdowns: dict[str, dict[str | None, int]]
    erased: dict[tuple[str, str], int]
    funnels: list[Funnel]
    certificates: dict[str, int]
    stops: list[Stop]
    quiz: list[QuizResult]
    surveys: list[Survey]
    weekly: Weekly
    first_seen: date | None = None
    demo_learners: int = 0  # made by `lessonbot demo-data`: the page says so
    # dimension -> outcome -> value -> learners (`queries.outcomes`), for OUTCOME_DIMENSIONS
    outcomes: dict[str, dict[str, dict[str | None, int]]] = field(default_factory=dict)
    channel: str | None = None  # a report about the learners of one channel only
    # channel -> figure -> broadcast messages (`queries.broadcasts_by_channel`)
    broadcasts: dict[str, dict[str, Messages]] = field(default_factory=dict)
    # channel -> event name -> follow-ups refused (`queries.follow_ups_not_sent`)
    not_sent: dict[str, dict[str, Messages]] = field(default_factory=dict)
    evidence: Evidence = field(default_factory=Evidence)  # baseline, waves, arms
    programme: str = ""  # the programme's name, for the page's title (--programme)
    period: Period = field(default_factory=Period)  # which learners (--from, --to)
    costs: Costs | None = None  # --costs


@dataclass(frozen=True)
class Report:
    data: ReportData
    headline: list[Figure]
    tables: dict[str, Table] = field(default_factory=dict)


def build(data: ReportData, library: Library) -> Report:
    tables: dict[str, Table] = {}
    for dimension in labels.DIMENSION_TITLES:
        table = breakdown_table(
            dimension,
            data.breakdowns.get(dimension, {}),
            data.learners,
            data.outcomes.get(dimension),
        )
        tables[table.slug] = table
    tables["broadcasts_by_channel"] = broadcasts_table(data.broadcasts, data.not_sent)
    completed = protect_map({f.course: f.completed for f in data.funnels})
    for table in (
        courses_table(data, library, completed),
        funnel_table(data.funnels, library, completed),
        *drop_off_tables(data.stops, library),
        quiz_table(data.quiz, library),
        survey_table(data.surveys, library),
        weekly_table(data.weekly),
        # The anonymous counts of erased learners say nothing of their channel or their start.
        *(
            []
            if data.channel or data.period.condition() is not None
            else [erased_table(data.erased, library)]
        ),
    ):
        tables[table.slug] = table
    for table in evidence_tables(data.evidence):
        tables[table.slug] = table
    tables["seed_programme_form"] = seed_programme_table(seed_reach(data), data.evidence)
    if data.costs is not None:
        completed_courses = sum(f.completed for f in data.funnels)
        tables["costs"] = costs_table(data.costs, completed_courses, follow_up_answers(data))
    report = Report(data, headline_figures(data, library), tables)
    tables["headline"] = headline_table(report.headline)
    return report


# -- who was reached --------------------------------------------------------------------------

# Categories left out of a percentage's base: people who gave no answer are not "not women".
EXCLUDED: dict[str, tuple[str | None, ...]] = {
    "country": (None,),
    "locale": (),
    "consent": (),
    **{
        name: (None, "skip")
        for name in ("gender", "age_group", "business", "disability", "minority")
    },
}


def ordered_values(dimension: str, counts: dict[str | None, int]) -> list[str | None]:
    known = [v for v in labels.VALUE_ORDER.get(dimension, ()) if v in counts]
    rest = sorted(
        (v for v in counts if v not in known and v not in ("skip", None)),
        key=lambda v: (-counts[v], v),
    )
    tail = [v for v in ("skip", None) if v in counts and v not in known]
    return [*known, *rest, *tail]


def breakdown_cells(
    dimension: str, counts: dict[str | None, int], total: int
) -> tuple[dict[str | None, Count], int]:
    """The protected count of every value, and the base its percentages are of."""
    values = ordered_values(dimension, counts)
    cells = dict(zip(values, protect([counts[v] for v in values]), strict=True))
    return cells, base_without(total, cells, EXCLUDED.get(dimension, ()))


OUTCOME_LABELS = {
    "started_lesson": "Started a lesson",
    "completed_lesson": "Completed a lesson",
    "completed_course": "Completed a course",
    "certificates": "Certificates issued",
    "survey_respondents": "Survey respondents",
}


def breakdown_table(
    dimension: str,
    counts: dict[str | None, int],
    total: int,
    outcomes: Mapping[str, Mapping[str | None, int]] | None = None,
) -> Table:
    """Learners per value of `dimension`; with `outcomes`, a column for each of them too.

    Each outcome column adds up to a total (printed in the last row, and known from the rest of
    the report: survey respondents, certificates per course), so each is protected as a whole,
    like the learners column.
    """
    cells, base = breakdown_cells(dimension, counts, total)
    excluded = EXCLUDED.get(dimension, ())
    names = [name for name in OUTCOMES if outcomes is not None and name in outcomes]
    found = {name: (outcomes or {}).get(name, {}) for name in names}
    columns = [
        dict(zip(cells, protect([found[name].get(v, 0) for v in cells]), strict=True))
        for name in names
    ]
    # The page says above the tables what the percentages are of; narrow columns here.
    percent_label = "%" if excluded else "% of learners"
    rows: list[tuple[Cell, ...]] = [
        (
            v if v is not None else "",
            labels.value_label(dimension, v),
            cell,
            "" if v in excluded else Share(cell, base),
            *(column[v] for column in columns),
        )
        for v, cell in cells.items()
    ]
    rows.append(
        ("", "All learners", count(total), "", *(count(sum(found[n].values())) for n in names))
    )
    title = labels.DIMENSION_TITLES[dimension]
    return Table(
        slug=f"learners_by_{dimension}",
        title=title,
        columns=(
            Column("value", "Code", html=False),
            Column(dimension, title if dimension in ("country", "locale", "channel") else "Answer"),
            Column("learners", "Learners"),
            Column("percent", percent_label),
            *(Column(name, OUTCOME_LABELS[name]) for name in names),
        ),
        rows=tuple(rows),
        total_rows=frozenset({len(rows) - 1}),
    )


def channel_refusal(channel: str, counts: Mapping[str | None, int]) -> str:
    """Why a report of `channel`'s learners alone must not be made ("" when it may be).

    `counts` are the learners of every channel. A report of one channel prints that channel's
    learner count exactly; where the full report hides it ("<5", or hidden so that another
    small channel can't be worked out from the total), the two reports together would undo it.
    """
    total = sum(counts.values())
    cells, _ = breakdown_cells("channel", dict(counts), total)
    cell = cells.get(channel)
    name = labels.channel_name(channel)
    if cell is None or cell.value == 0:
        known = ", ".join(sorted(str(c) for c in counts if c))
        return f"no learners on channel {channel!r}" + (f" (there are: {known})" if known else "")
    if cell.hidden == SMALL:
        return f"fewer than {MIN_COUNT} learners on {name}: too few for a report of their own"
    if not cell.shown:
        return (
            f"the full report hides how many learners are on {name}, so that a smaller "
            "channel's count can't be worked out from the total; a report of "
            f"{name} alone would give it away"
        )
    return ""


# -- broadcasts -------------------------------------------------------------------------------

K = TypeVar("K", bound=Hashable)

# The channels whose webhooks say what became of a broadcast message (`OutboxRow.receipt`):
# WhatsApp's statuses, Zalo's received and seen events, Messenger's deliveries (the bot keeps
# no Messenger read). A channel not named here gets a cell where its rows have such receipts.
RECEIPTS = {"delivered": ("whatsapp", "messenger", "zalo"), "read": ("whatsapp", "zalo")}
# The figures that add up, in every row, to the messages queued.
PARTS = ("sent", "skipped", "waiting", "not_yet_sent", "cancelled", "failed", "blocked")
# The follow-ups refused (`queries.NOT_SENT_EVENTS`), as CSV columns.
NOT_SENT_KEYS = dict(
    zip(NOT_SENT_EVENTS, ("reminders_not_sent", "survey_invitations_not_sent"), strict=True)
)
BROADCAST_LABELS = {
    "queued": "Messages queued",
    "sent": "Sent",
    "delivered": "Of which delivered",
    "read": "Of which read",
    "skipped": "Skipped by the channel's rules",
    "waiting": "Waiting for a quota",
    "not_yet_sent": "Not sent yet",
    "cancelled": "Cancelled",
    "failed": "Failed",
    "blocked": "Blocked",
    "reminders_not_sent": "Reminders the window left out",
    "survey_invitations_not_sent": "Survey invitations the window left out",
}
TOTAL = ""  # the row key of the total row


def protect_messages(cells: Mapping[K, Messages], groups: Iterable[Sequence[K]]) -> dict[K, Count]:
    """Message counts, protected as learner counts are (`privacy`'s rules 1 and 2).

    A count of messages to 1 to 4 learners points at them however many messages it is: it is
    hidden ("<5" when it is also under 5 messages, else "hidden"). Each of `groups` is cells
    that add up to a shown total; the groups overlap (a table's rows and its columns), so each
    is checked again until none changes: in any group with a hidden cell, the smallest others
    are hidden too until at least two are, for at least 5 learners together.
    """
    hidden: dict[K, str] = {
        key: SMALL if n.messages < MIN_COUNT else HIDDEN
        for key, n in cells.items()
        if 0 < n.learners < MIN_COUNT
    }
    checked = [list(group) for group in groups]
    changed = True
    while changed:
        changed = False
        for group in checked:
            while True:
                out = [key for key in group if key in hidden]
                together = sum(cells[key].learners for key in out)
                if not out or (len(out) >= 2 and together >= MIN_COUNT):
                    break
                candidates = [
                    (cells[key].messages, cells[key].learners, i)
                    for i, key in enumerate(group)
                    if key not in hidden and cells[key].messages > 0
                ]
                if not candidates:
                    break  # everything non-zero is hidden already
                hidden[group[min(candidates)[2]]] = HIDDEN
                changed = True
    return {key: Count(n.messages, hidden.get(key, "")) for key, n in cells.items()}


def broadcasts_table(
    broadcasts: Mapping[str, Mapping[str, Messages]],
    not_sent: Mapping[str, Mapping[str, Messages]] | None = None,
) -> Table:
    """Broadcast messages per channel of their recipients, and the follow-ups refused.

    Each column adds up to the total row; in each row the `PARTS` add up to the messages
    queued: both are groups for `protect_messages`. Receipts are counted only on the channels
    that report them (`RECEIPTS`); elsewhere the cell is empty: nobody knows, which is not 0.
    """
    refused = not_sent or {}
    none = Messages(0, 0)
    figures = {
        channel: {
            **{name: (broadcasts.get(channel) or {}).get(name, none) for name in BROADCAST_FIGURES},
            **{
                key: (refused.get(channel) or {}).get(event, none)
                for event, key in NOT_SENT_KEYS.items()
            },
        }
        for channel in {*broadcasts, *refused}
    }
    order: dict[str | None, int] = {
        channel: found["queued"].messages
        + sum(found[key].messages for key in NOT_SENT_KEYS.values())
        for channel, found in figures.items()
    }
    channels = [str(c) for c in ordered_values("channel", order)]
    keys = [*BROADCAST_FIGURES, *NOT_SENT_KEYS.values()]

    def reported(channel: str, name: str) -> bool:
        return name not in RECEIPTS or (
            channel in RECEIPTS[name] or figures[channel][name].messages > 0
        )

    cells: dict[tuple[str, str], Messages] = {
        (channel, name): figures[channel][name]
        for channel in channels
        for name in keys
        if reported(channel, name)
    }
    for name in keys:
        column = [cells[(c, name)] for c in channels if (c, name) in cells]
        if column or name not in RECEIPTS:
            cells[(TOTAL, name)] = Messages(
                sum(n.messages for n in column), sum(n.learners for n in column)
            )
    groups = [[(c, name) for c in channels if (c, name) in cells] for name in keys]
    groups += [[(row, name) for name in PARTS] for row in (*channels, TOTAL)]
    shown = protect_messages(cells, groups)
    rows: list[tuple[Cell, ...]] = [
        (
            channel,
            labels.channel_name(channel) if channel != TOTAL else "All channels",
            *(shown.get((channel, name), "") for name in keys),
        )
        for channel in (*channels, TOTAL)
    ]
    return Table(
        slug="broadcasts_by_channel",
        title="Broadcast messages by channel",
        columns=(
            Column("value", "Code", html=False),
            Column("channel", "Channel"),
            *(Column(name, BROADCAST_LABELS[name]) for name in keys),
        ),
        rows=tuple(rows),
        total_rows=frozenset({len(rows) - 1}),
    )


def profile_share(data: ReportData, dimension: str, values: Sequence[str]) -> Share:
    """The share of learners with any of `values`, of those who answered the question."""
    cells, base = breakdown_cells(dimension, data.breakdowns.get(dimension, {}), data.learners)
    parts = [cells[v] for v in values if v in cells]
    together = Count(sum(c.value for c in parts), "" if all(c.shown for c in parts) else HIDDEN)
    return Share(together, base)


# -- courses ----------------------------------------------------------------------------------


def courses_table(data: ReportData, library: Library, completed: dict[str, Count]) -> Table:
    certificates = protect_map({f.course: data.certificates.get(f.course, 0) for f in data.funnels})
    rows: list[tuple[Cell, ...]] = []
    for f in data.funnels:
        started = count(f.started)
        rows.append(
            (
                f.course,
                labels.course_title(library, f.course),
                len(f.lessons),
                started,
                completed[f.course],
                Share(completed[f.course], f.started),
                certificates[f.course],
            )
        )
    return Table(
        slug="courses",
        title="Courses",
        columns=(
            Column("course", "Course id", html=False),
            Column("title", "Course"),
            Column("lessons", "Lessons"),
            Column("started", "Started"),
            Column("completed", "Completed every lesson"),
            Column("percent_completed", "% of starters"),
            Column("certificates", "Certificates issued"),
        ),
        rows=tuple(rows),
    )


def funnel_table(funnels: Sequence[Funnel], library: Library, completed: dict[str, Count]) -> Table:
    rows: list[tuple[Cell, ...]] = []
    for f in funnels:
        title = labels.course_title(library, f.course)
        started = count(f.started)
        rows.append(
            (f.course, title, 0, "", "Started the course", started, Share(started, f.started))
        )
        for i, (lesson_id, n) in enumerate(zip(f.lessons, f.through, strict=True), start=1):
            last = i == len(f.lessons)
            cell = completed[f.course] if last else count(n)
            name = labels.lesson_title(library, f.course, lesson_id)
            label = f"Lesson {i}: {name}" + (" (course completed)" if last else "")
            rows.append((f.course, title, i, lesson_id, label, cell, Share(cell, f.started)))
    return Table(
        slug="funnel",
        title="Course funnels",
        columns=(
            Column("course", "Course id", html=False),
            Column("course_title", "Course"),
            Column("step", "Step", html=False),
            Column("lesson", "Lesson id", html=False),
            Column("label", "Completed lessons 1 to …"),
            Column("learners", "Learners"),
            Column("percent", "% of starters"),
        ),
        rows=tuple(rows),
    )


def _step_place(lesson: LoadedLesson | None, step_id: str) -> tuple[int, int, str]:
    """(position, steps in the lesson, a short plain description) of a step."""
    if lesson is None or lesson.index_of(step_id) is None:
        return 0, 0, step_id or "(no step recorded)"
    index = lesson.index_of(step_id) or 0
    step = lesson.steps[index]
    return index + 1, len(lesson.steps), f"{step.type}: {labels.plain(step.text, 70)}"


def drop_off_tables(stops: Sequence[Stop], library: Library, top: int = 12) -> list[Table]:
    """All stopping points per lesson (CSV), and the most common ones (the page)."""
    listed = {c.id: c for c in library.courses if c.course.listed}
    by_lesson: dict[tuple[str, str], list[Stop]] = {}
    for stop in stops:
        if stop.course in listed:
            by_lesson.setdefault((stop.course, stop.lesson), []).append(stop)
    order = {
        (c.id, le.id): (ci, li)
        for ci, c in enumerate(listed.values())
        for li, le in enumerate(c.lessons)
    }
    rows: list[tuple[Cell, ...]] = []
    totals: set[int] = set()
    ranked: list[tuple[int, tuple[Cell, ...]]] = []
    for key in sorted(by_lesson, key=lambda k: order.get(k, (99, 99))):
        course_id, lesson_id = key
        lesson = library.lesson(course_id, lesson_id)
        group = sorted(by_lesson[key], key=lambda s: _step_place(lesson, s.step)[0])
        cells = protect([s.learners for s in group])
        total = sum(s.learners for s in group)
        course_title = labels.course_title(library, course_id)
        lesson_title = labels.lesson_title(library, course_id, lesson_id)
        for stop, cell in zip(group, cells, strict=True):
            place, size, what = _step_place(lesson, stop.step)
            row: tuple[Cell, ...] = (
                course_id,
                course_title,
                lesson_id,
                lesson_title,
                stop.step,
                f"{place} of {size}" if place else "",
                what,
                cell,
                Share(cell, total),
            )
            rows.append(row)
            if cell.shown:
                ranked.append((cell.value, row))
        totals.add(len(rows))
        rows.append(
            (
                course_id,
                course_title,
                lesson_id,
                lesson_title,
                "",
                "",
                "All steps",
                count(total),
                "",
            )
        )
    columns = (
        Column("course", "Course id", html=False),
        Column("course_title", "Course"),
        Column("lesson", "Lesson id", html=False),
        Column("lesson_title", "Lesson"),
        Column("step", "Step id", html=False),
        Column("position", "Step", nowrap=True),
        Column("step_text", "What the step shows"),
        Column("learners", "Learners who stopped here"),
        Column("percent", "% of those who stopped in this lesson"),
    )
    full = Table(
        "drop_off", "Where learners stop", columns, tuple(rows), total_rows=frozenset(totals)
    )
    ranked.sort(key=lambda item: -item[0])
    top_rows = tuple(row for _, row in ranked[:top])
    return [
        full,
        Table("drop_off_top", "Most common stopping points", columns, top_rows, csv=False),
    ]


def quiz_table(results: Sequence[QuizResult], library: Library) -> Table:
    found = {(r.course, r.lesson, r.step): r for r in results}
    rows: list[tuple[Cell, ...]] = []
    numbers: dict[tuple[str, str], int] = {}
    for course_id, lesson_id, step in question_steps(library):
        numbers[(course_id, lesson_id)] = numbers.get((course_id, lesson_id), 0) + 1
        result = found.get((course_id, lesson_id, step.id))
        answered, right = (result.answered, result.correct) if result else (0, 0)
        right_cell, _ = protect([right, answered - right])
        rows.append(
            (
                course_id,
                labels.course_title(library, course_id),
                lesson_id,
                labels.lesson_title(library, course_id, lesson_id),
                step.id,
                f"Q{numbers[(course_id, lesson_id)]}",
                labels.plain(step.text, 140),
                count(answered),
                right_cell,
                Share(right_cell, answered),
            )
        )
    return Table(
        slug="quiz",
        title="Quiz questions",
        columns=(
            Column("course", "Course id", html=False),
            Column("course_title", "Course"),
            Column("lesson", "Lesson id", html=False),
            Column("lesson_title", "Lesson"),
            Column("step", "Step id", html=False),
            Column("number", "#"),
            Column("question", "Question"),
            Column("answered", "Learners who answered"),
            Column("right", "Right first time"),
            Column("percent", "% right"),
        ),
        rows=tuple(rows),
    )


def survey_cells(survey: Survey | None, step: SurveyStep) -> tuple[dict[str, Count], int, int]:
    """Protected counts per option, learners who answered, and the base of the percentages."""
    counts = survey.answers.get(step.id, {}) if survey else {}
    options = [o.id for o in step.options or ()]
    cells = dict(zip(options, protect([counts.get(o, 0) for o in options]), strict=True))
    answered = sum(counts.get(o, 0) for o in options)
    return cells, answered, base_without(answered, cells, [SKIP])


def survey_table(surveys: Sequence[Survey], library: Library) -> Table:
    found = {(s.course, s.lesson): s for s in surveys}
    rows: list[tuple[Cell, ...]] = []
    totals: set[int] = set()
    for course_id, lesson_id, step in survey_steps(library):
        cells, answered, base = survey_cells(found.get((course_id, lesson_id)), step)
        question = labels.plain(step.text, 140)
        for option in step.options or ():
            cell = cells[option.id]
            rows.append(
                (
                    course_id,
                    lesson_id,
                    step.id,
                    question,
                    option.id,
                    labels.plain(option.text or option.label),
                    cell,
                    "" if option.id == SKIP else Share(cell, base),
                )
            )
        totals.add(len(rows))
        rows.append(
            (course_id, lesson_id, step.id, question, "", "All who answered", count(answered), "")
        )
    return Table(
        slug="survey",
        title="Follow-up survey",
        columns=(
            Column("course", "Course id", html=False),
            Column("lesson", "Lesson id", html=False),
            Column("step", "Step id", html=False),
            Column("question", "Question"),
            Column("answer", "Answer id", html=False),
            Column("answer_text", "Answer"),
            Column("learners", "Learners"),
            Column("percent", "% not counting “prefer not to say”"),
        ),
        rows=tuple(rows),
        total_rows=frozenset(totals),
    )


def survey_share(data: ReportData, library: Library, step_id: str, option: str = "yes") -> Share:
    """The share choosing `option` in one follow-up question, as the survey table prints it."""
    survey = next((s for s in data.surveys if (s.course, s.lesson) == FOLLOW_UP), None)
    lesson = library.lesson(*FOLLOW_UP)
    step = next((s for s in lesson.steps if s.id == step_id), None) if lesson else None
    if not isinstance(step, SurveyStep) or option not in {o.id for o in step.options or ()}:
        return Share(Count(0), 0)
    cells, _, base = survey_cells(survey, step)
    return Share(cells[option], base)


# -- over time --------------------------------------------------------------------------------


def weeks_between(weekly: Weekly) -> list[date]:
    mondays = [*weekly.new_learners, *weekly.lessons_completed, *weekly.certificates]
    if not mondays:
        return []
    first, last = min(mondays), max(mondays)
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


def weekly_table(weekly: Weekly) -> Table:
    weeks = weeks_between(weekly)
    series = [
        protect([source.get(w, 0) for w in weeks])
        for source in (weekly.new_learners, weekly.lessons_completed, weekly.certificates)
    ]
    rows: list[tuple[Cell, ...]] = []
    for i, monday in enumerate(weeks):
        year, week, _ = monday.isocalendar()
        rows.append(
            (f"{year}-W{week:02d}", monday.isoformat(), series[0][i], series[1][i], series[2][i])
        )
    return Table(
        slug="weekly",
        title="Week by week",
        columns=(
            Column("week", "ISO week", nowrap=True),
            Column("week_start", "Starting", nowrap=True),
            Column("new_learners", "New learners"),
            Column("lessons_completed", "Lessons completed"),
            Column("certificates", "Certificates"),
        ),
        rows=tuple(rows),
    )


def erased_table(counts: dict[tuple[str, str], int], library: Library) -> Table:
    rows: list[tuple[Cell, ...]] = [
        (
            "learners_erased",
            "",
            "Learners who erased their data",
            count(counts.get(("learners_erased", ""), 0)),
        )
    ]
    courses = [c.id for c in library.courses if c.course.listed]
    course_counts = protect_map({c: counts.get(("course_completed", c), 0) for c in courses})
    for course_id in courses:
        rows.append(
            (
                "course_completed",
                course_id,
                f"Completed: {labels.course_title(library, course_id)}",
                course_counts[course_id],
            )
        )
    for course in library.courses:
        if not course.course.listed:
            continue
        lesson_counts = protect(
            [counts.get(("lesson_completed", le.key), 0) for le in course.lessons]
        )
        for lesson, cell in zip(course.lessons, lesson_counts, strict=True):
            rows.append(
                (
                    "lesson_completed",
                    lesson.key,
                    f"Completed lesson: {labels.plain(lesson.lesson.title)}",
                    cell,
                )
            )
    return Table(
        slug="erased",
        title="Learners who erased their data",
        columns=(
            Column("metric", "Metric", html=False),
            Column("key", "Key", html=False),
            Column("what", "What they had done"),
            Column("learners", "Learners"),
        ),
        rows=tuple(rows),
    )


# -- headline ---------------------------------------------------------------------------------


def headline_figures(data: ReportData, library: Library) -> list[Figure]:
    erased = data.erased.get(("learners_erased", ""), 0)
    erased_courses = sum(
        n for (metric, _), n in data.erased.items() if metric == "course_completed"
    )
    course_total = sum(f.completed for f in data.funnels) + erased_courses
    countries = sum(1 for v in data.breakdowns.get("country", {}) if v is not None)
    respondents = sum(s.respondents for s in data.surveys if (s.course, s.lesson) == FOLLOW_UP)
    return [
        Figure(
            "learners_reached",
            "Learners reached",
            count(data.learners + erased),
            f"including {count(erased).html()} who later erased their data" if erased else "",
        ),
        Figure("countries", "Countries", Count(countries), "where learners said they live"),
        Figure(
            "women_percent",
            "Women",
            profile_share(data, "gender", ["woman"]),
            "of learners who told us their gender",
        ),
        Figure(
            "youth_percent",
            "Youth aged 15–35",
            profile_share(data, "age_group", YOUTH),
            "of learners who told us their age",
        ),
        Figure(
            "courses_completed",
            "Courses completed",
            count(course_total),
            "every lesson of a course done",
        ),
        Figure(
            "survey_respondents",
            "Survey respondents",
            count(respondents),
            "answered the follow-up survey",
        ),
        Figure(
            "response_rate_percent",
            "Response rate",
            response_rate(data.evidence),
            "of invitations to a follow-up wave answered",
        ),
        Figure(
            "selling_online_percent",
            "Sell online",
            survey_share(data, library, SELLING_ONLINE),
            "of follow-up respondents who answered",
        ),
    ]


def response_rate(evidence: Evidence) -> Share:
    """Answered of invited, over every follow-up wave (the baseline is not a follow-up)."""
    invited = sum(v[0] for k, v in evidence.response.items() if k[0] != BASELINE_WAVE)
    answered = sum(v[1] for k, v in evidence.response.items() if k[0] != BASELINE_WAVE)
    return rate(count(answered), count(invited))


def follow_up_answers(data: ReportData) -> int:
    """Invitations to a follow-up wave that were answered: the survey's results."""
    return sum(v[1] for k, v in data.evidence.response.items() if k[0] != BASELINE_WAVE)


def seed_reach(data: ReportData) -> list[tuple[str, str, Share]]:
    """The reach rows of the seed programme's table, as the reach tables print them."""
    reach = [
        ("women", "Women", profile_share(data, "gender", ["woman"])),
        ("youth", "Youth (18–35)", profile_share(data, "age_group", YOUTH)),
        ("disability", "Persons with a disability", profile_share(data, "disability", ["yes"])),
        ("minority", "Ethnic minority or Indigenous", profile_share(data, "minority", ["yes"])),
    ]
    countries = data.breakdowns.get("country", {})
    cells, base = breakdown_cells("country", countries, data.learners)
    for code, cell in cells.items():
        if code is not None:
            reach.append((f"country:{code}", labels.country_name(code), Share(cell, base)))
    return reach


def headline_table(figures: Iterable[Figure]) -> Table:
    rows = tuple((f.key, f.label, f.value, f.note) for f in figures)
    return Table(
        slug="headline",
        title="Headline figures",
        columns=(
            Column("figure", "Figure", html=False),
            Column("label", "What"),
            Column("value", "Value (counts, or whole percent)"),
            Column("note", "Note"),
        ),
        rows=rows,
    )
