"""report.html: one self-contained page a funder can open, print or forward.

No scripts, no external files, no web fonts: inline CSS and inline SVG only, so the page shows
the same offline, in an email attachment or years later. Every text that comes from the
database or a lesson file goes through `escape`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from html import escape

from bot.content.library import Library
from bot.report import charts, labels
from bot.report.privacy import MIN_COUNT, SMALL, Count, Share
from bot.report.tables import Cell, Report, Table

CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --accent:#0f766e; --soft:#f0fdfa; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
       Arial, sans-serif; color:var(--ink); background:#fff; }
main { max-width:1080px; margin:0 auto; padding:32px 28px 48px; }
header { border-bottom:3px solid var(--accent); padding-bottom:14px; margin-bottom:22px; }
h1 { font-size:28px; margin:0 0 4px; }
h2 { font-size:21px; margin:40px 0 6px; padding-top:8px; border-top:1px solid var(--line); }
h3 { font-size:15px; margin:18px 0 6px; }
p { margin:6px 0 10px; max-width:74ch; }
.sub, .note { color:var(--muted); }
.note { font-size:13px; }
.cards { display:grid; grid-template-columns:repeat(4, 1fr); gap:12px; margin:18px 0 8px; }
.card { background:var(--soft); border-radius:10px; padding:12px 14px; }
.card .value { font-size:28px; font-weight:700; color:var(--accent); line-height:1.2; }
.card .label { font-weight:600; }
.card .hint { font-size:12px; color:var(--muted); }
.chart { margin:10px 0 6px; }
.chart svg { max-width:100%; height:auto; display:block; }
.grid { display:grid; grid-template-columns:repeat(auto-fit, minmax(300px, 1fr));
        gap:8px 28px; align-items:start; }
table { border-collapse:collapse; width:100%; font-size:13px; margin:6px 0 12px; }
th { text-align:left; font-weight:600; color:var(--muted); border-bottom:2px solid var(--line);
     padding:5px 8px 5px 0; vertical-align:bottom; }
td { border-bottom:1px solid var(--line); padding:4px 8px 4px 0; vertical-align:top; }
td.num, th.num { text-align:right; white-space:nowrap; }
td.nw { white-space:nowrap; }
tr.total td { font-weight:700; }
.hidden { color:var(--muted); font-style:italic; }
details summary { cursor:pointer; color:var(--accent); font-weight:600; margin:6px 0; }
.method { background:#f9fafb; border:1px solid var(--line); border-radius:10px;
          padding:4px 20px 10px; margin-top:40px; }
.method h2 { border:0; margin-top:14px; }
.demo { background:#fef3c7; border:1px solid #f59e0b; border-radius:8px; padding:8px 14px;
        max-width:none; }
footer { margin-top:30px; font-size:12px; color:var(--muted); }
@media print { main { padding:0; } h2 { break-after:avoid; } .chart, tr { break-inside:avoid; } }
@media (max-width:760px) { .cards { grid-template-columns:repeat(2, 1fr); } }
"""


def _cell(cell: Cell) -> str:
    if isinstance(cell, Count):
        if cell.shown:
            return cell.html()
        title = (
            f"fewer than {MIN_COUNT} learners"
            if cell.hidden == SMALL
            else "hidden so that a small figure can't be worked out from the total"
        )
        return f'<span class="hidden" title="{title}">{escape(cell.html())}</span>'
    if isinstance(cell, Share):
        return escape(cell.html())
    if isinstance(cell, int):
        return f"{cell:,}"
    return escape(cell)


def table(data: Table, rows: Sequence[int] | None = None, *, merge_first: bool = False) -> str:
    """A table's page columns; `merge_first` prints a repeated first column only once."""
    shown = [i for i, column in enumerate(data.columns) if column.html]
    picked = range(len(data.rows)) if rows is None else rows
    numeric = {
        i
        for i in shown
        if data.rows
        and all(
            isinstance(data.rows[r][i], Count | Share | int) or data.rows[r][i] == ""
            for r in picked
        )
    }
    head = "".join(
        f'<th class="num">{escape(data.columns[i].label)}</th>'
        if i in numeric
        else f"<th>{escape(data.columns[i].label)}</th>"
        for i in shown
    )
    body = []
    previous: Cell | None = None
    for r in picked:
        row = data.rows[r]
        cells = []
        for i in shown:
            text = _cell(row[i])
            if merge_first and i == shown[0]:
                text = "" if row[i] == previous else text
                previous = row[i]
            css = "num" if i in numeric else "nw" if data.columns[i].nowrap else ""
            cells.append(f'<td class="{css}">{text}</td>' if css else f"<td>{text}</td>")
        css = ' class="total"' if r in data.total_rows else ""
        body.append(f"<tr{css}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _chart(svg: str, caption: str) -> str:
    if not svg:
        return f'<p class="note">{escape(caption)}: no data yet.</p>'
    return f'<figure class="chart" aria-label="{escape(caption)}">{svg}</figure>'


def _counts(data: Table, key: str = "learners") -> list[int | None]:
    return [c.value if isinstance(c, Count) and c.shown else None for c in data.column(key)]


def _percents(data: Table, key: str = "percent") -> list[int | None]:
    return [c.percent if isinstance(c, Share) else None for c in data.column(key)]


def _cards(report: Report) -> str:
    cards = []
    for figure in report.headline:
        value = figure.value
        shown = value.html() if isinstance(value, Count) else (value.html() or "–")
        cards.append(
            f'<div class="card"><div class="value">{escape(shown)}</div>'
            f'<div class="label">{escape(figure.label)}</div>'
            f'<div class="hint">{escape(figure.note)}</div></div>'
        )
    return f'<section class="cards">{"".join(cards)}</section>'


def _weeks(report: Report) -> list[date]:
    return [date.fromisoformat(str(row[1])) for row in report.tables["weekly"].rows]


def _reach(report: Report) -> str:
    tables = report.tables
    countries = tables["learners_by_country"]
    learners = _counts(countries)[:-1]  # the last row is the total
    country_svg = charts.bars(
        "countries",
        [str(row[1]) for row in countries.rows[:-1]],
        learners,
        title="Learners by country",
        width=charts.HALF,
        label_chars=24,
    )
    new_svg = charts.weekly(
        "new-learners",
        _weeks(report),
        [("New learners per week", _counts(tables["weekly"], "new_learners"))],
    )
    return "".join(
        [
            "<h2>Reach</h2>",
            "<p>Everyone who started a conversation with the bot counts as reached, whether or not "
            "they finished a lesson. Country and language are what learners chose in the bot; "
            "the percentages by country are of learners who gave one.</p>",
            _chart(new_svg, "New learners per week"),
            '<div class="grid"><div>',
            _chart(country_svg, "Learners by country"),
            "</div><div>",
            "<h3>Country</h3>",
            table(countries),
            "</div></div>",
            '<div class="grid"><div><h3>Language</h3>',
            table(tables["learners_by_locale"]),
            "</div><div></div></div>",
            _channels(report),
        ]
    )


def _channels(report: Report) -> str:
    channels = report.tables["learners_by_channel"]
    return "".join(
        [
            "<h3>Channel</h3>",
            "<p>The messaging app each learner uses the bot on, and how far the learners of "
            "each got: those who started a lesson, completed at least one lesson, completed "
            "every lesson of at least one course, and answered the follow-up survey, with the "
            "certificates issued to them. Each column is checked for small numbers on its "
            "own.</p>",
            table(channels),
            _broadcasts(report),
        ]
    )


def _broadcasts(report: Report) -> str:
    return "".join(
        [
            "<h3>Broadcast messages by channel</h3>",
            "<p>Every message of the broadcasts, by the app of the learner it was for. Where "
            "an app says what became of a message it took (WhatsApp, Zalo; Messenger says "
            "only whether it arrived), the table counts how many of those sent were delivered "
            "and read; for the other apps nobody knows, and the cell is empty.</p>",
            "<p><b>Skipped</b>: the app's rules allowed no message to that learner, so none "
            "was sent. Messenger sends nothing outside its 24-hour window after the learner's "
            "last message, WhatsApp only approved templates, and Zalo only its monthly "
            "allowance of proactive messages. <b>Waiting</b>: the messages are over a quota "
            "(WhatsApp's messaging tier, LINE's monthly message quota, Zalo's allowance); they "
            "go when it frees. <b>Not sent yet</b>: still on their way (to be tried again, or "
            "held over the learner's night). The last two columns count the reminders and "
            "survey invitations the apps' rules did not let the bot send. A count of "
            "messages to fewer than 5 learners is hidden, however many messages it is.</p>",
            table(report.tables["broadcasts_by_channel"]),
        ]
    )


def _profile(report: Report) -> str:
    tables = report.tables
    groups = []
    for dimension in ("gender", "age_group", "business"):
        data = tables[f"learners_by_{dimension}"]
        rows = [r for r, row in enumerate(data.rows) if isinstance(row[3], Share)]
        groups.append(
            (
                labels.DIMENSION_TITLES[dimension],
                [str(data.rows[r][1]) for r in rows],
                [_percents(data)[r] for r in rows],
            )
        )
    svg = charts.panels("profile", groups)
    boxes = "".join(
        f"<div><h3>{escape(tables[f'learners_by_{d}'].title)}</h3>"
        f"{table(tables[f'learners_by_{d}'])}</div>"
        for d in ("gender", "age_group", "business", "disability", "minority", "consent")
    )
    return "".join(
        [
            "<h2>Who the learners are</h2>",
            "<p>After a privacy notice, learners are asked whether they agree to a few questions "
            "about themselves. Every question can be skipped (“prefer not to say”), and learners "
            "who "
            "did not agree are not asked at all (“not asked”). Percentages are of those who "
            "answered.</p>",
            _chart(svg, "Gender, age group and business of learners who answered"),
            f'<div class="grid">{boxes}</div>',
        ]
    )


def _courses(report: Report, library: Library) -> str:
    tables = report.tables
    funnel = tables["funnel"]
    by_course: dict[str, list[int | None]] = {}
    for row, percent in zip(funnel.rows, _percents(funnel), strict=True):
        by_course.setdefault(str(row[1]), []).append(percent)
    steps = max((len(v) - 1 for v in by_course.values()), default=0)
    svg = charts.funnels("funnels", list(by_course.items()), steps)
    return "".join(
        [
            "<h2>Courses</h2>",
            "<p>A course is completed when every one of its lessons is. The funnel follows "
            "learners "
            "who started a course through its lessons in order: each point is the share of "
            "starters "
            "who completed lessons 1 to <i>n</i>.</p>",
            _chart(svg, "Course funnels"),
            table(tables["courses"]),
            "<details><summary>The funnel of each course, lesson by lesson</summary>",
            table(funnel, merge_first=True),
            "</details>",
        ]
    )


def _drop_off(report: Report) -> str:
    top = report.tables["drop_off_top"]
    names = [f"{row[3]} · step {row[5]} ({str(row[6]).split(':')[0]})" for row in top.rows]
    svg = charts.bars(
        "drop-off",
        names,
        _counts(top),
        title="Learners who stopped at this step",
        colour=charts.PALETTE[1],
    )
    return "".join(
        [
            "<h2>Where learners stop</h2>",
            "<p>For every lesson a learner started but has not completed, the last step they saw. "
            "Some of them may still come back. The most common stopping points are below; "
            "<code>drop_off.csv</code> has every lesson.</p>",
            _chart(svg, "Most common stopping points"),
            table(top),
        ]
    )


def _quiz(report: Report) -> str:
    quiz = report.tables["quiz"]
    percents = _percents(quiz)
    order = sorted(range(len(quiz.rows)), key=lambda r: (percents[r] is None, percents[r] or 0))
    names = [f"{quiz.rows[r][3]} · {quiz.rows[r][5]}" for r in order]
    svg = charts.bars(
        "quiz",
        names,
        [percents[r] for r in order],
        percent=True,
        title="Right at the first try, hardest question first",
        colour=charts.PALETTE[2],
    )
    return "".join(
        [
            "<h2>Quiz questions</h2>",
            "<p>Only each learner's first try at a question counts; after a wrong answer the bot "
            "explains and lets them try again, and those later tries are left out.</p>",
            _chart(svg, "Quiz accuracy per question"),
            "<details><summary>Every question</summary>",
            table(quiz, merge_first=True),
            "</details>",
        ]
    )


def _survey(report: Report) -> str:
    survey = report.tables["survey"]
    questions: dict[str, list[tuple[str, str, int | None]]] = {}
    for row in survey.rows:
        if isinstance(row[7], Share):
            questions.setdefault(str(row[3]), []).append((str(row[4]), str(row[5]), row[7].percent))
    svg = charts.stacked("survey", list(questions.items()))
    return "".join(
        [
            "<h2>Follow-up survey</h2>",
            "<p>About five months after finishing their first course, learners are invited to a "
            "short survey. Percentages leave out those who chose “prefer not to say”; the table "
            "shows how many did.</p>",
            _chart(svg, "Follow-up survey answers"),
            table(survey, merge_first=True),
        ]
    )


def _activity(report: Report) -> str:
    weekly = report.tables["weekly"]
    svg = charts.weekly(
        "activity",
        _weeks(report),
        [
            ("Lessons completed per week", _counts(weekly, "lessons_completed")),
            ("Certificates issued per week", _counts(weekly, "certificates")),
        ],
    )
    return "".join(
        [
            "<h2>Week by week</h2>",
            "<p>Weeks are ISO weeks, Monday to Sunday, in UTC.</p>",
            _chart(svg, "Lessons completed and certificates per week"),
            "<details><summary>Every week</summary>",
            table(weekly),
            "</details>",
        ]
    )


def _erased(report: Report) -> str:
    if "erased" not in report.tables:
        return "".join(
            [
                "<h2>Learners who erased their data</h2>",
                "<p>What learners who erased their data leave behind does not say which "
                "channel they used, so this report of one channel leaves them out.</p>",
            ]
        )
    erased = report.tables["erased"]
    lessons = [r for r, row in enumerate(erased.rows) if row[0] == "lesson_completed"]
    others = [r for r in range(len(erased.rows)) if r not in lessons]
    return "".join(
        [
            "<h2>Learners who erased their data</h2>",
            "<p>A learner can erase everything the bot holds about them with /delete. What remains "
            "are these counts, with nothing that points to a person. They are included in "
            "“learners reached” and “courses completed” above, and in no other table.</p>",
            table(erased, others),
            "<details><summary>Lessons they had completed</summary>",
            table(erased, lessons),
            "</details>",
        ]
    )


def _method(files: Iterable[str]) -> str:
    links = ", ".join(f'<a href="{escape(name)}">{escape(name)}</a>' for name in files)
    return "".join(
        [
            '<section class="method"><h2>How to read this report</h2>',
            "<ul>",
            f"<li><b>Small numbers are hidden.</b> Any count of 1 to {MIN_COUNT - 1} learners "
            "shows "
            "as “&lt;5”, so nobody can be recognised from a small group. Where rows add up to a "
            "total, the next smallest row is hidden as well (“hidden”), so the small one can't be "
            "worked out by subtraction. Percentages appear only next to counts that are "
            "shown.</li>",
            "<li><b>Percentages</b> are whole numbers and are of learners who answered the "
            "question; "
            "“prefer not to say” and “not asked” are left out of the base (when fewer than 5 chose "
            "one of them, they stay in the base, so that the hidden number can't be worked "
            "out).</li>",
            "<li><b>Reached</b> means the learner wrote to the bot at least once. <b>Youth</b> is "
            "the "
            "15–24 and 25–35 age groups.</li>",
            "<li><b>A course is completed</b> when all of its lessons are. The follow-up survey is "
            "not a course.</li>",
            "<li><b>Quiz accuracy</b> counts each learner's first try at each question once.</li>",
            "<li><b>Survey answers</b> count each respondent's latest answer to each question. "
            "“Gained new customers” and “started selling online” are the share answering "
            "“Yes”.</li>",
            "<li>No names, messages or typed answers are in this report: only counts.</li>",
            "</ul>",
            f"<p>Every table is also a CSV file next to this page: {links}.</p>",
            "</section>",
        ]
    )


def render(report: Report, library: Library) -> str:
    data = report.data
    generated = data.generated.strftime("%d %B %Y, %H:%M UTC")
    period = (
        f"Learners who joined from {data.first_seen:%d %B %Y} to {data.generated:%d %B %Y}"
        if data.first_seen
        else "No learners yet"
    )
    files = [f"{each.slug}.csv" for each in report.tables.values() if each.csv]
    title = "LessonBot impact report"
    banner = ""
    if data.channel is not None:
        title += f": {labels.channel_name(data.channel)}"
        banner += (
            f'<p class="demo">Only the learners who use the bot on '
            f"{escape(labels.channel_name(data.channel))}: every figure in this report is "
            "theirs.</p>"
        )
    if data.demo_learners:
        banner += (
            f'<p class="demo">Demo data: {data.demo_learners:,} of these learners were '
            "made up by <code>lessonbot demo-data</code>. They are not real people.</p>"
        )
    sections = [
        banner,
        _cards(report),
        '<p class="note">Counts below 5 are shown as “&lt;5” to protect learners’ privacy; '
        "see “How to read this report” at the end.</p>",
        _reach(report),
        _profile(report),
        _courses(report, library),
        _drop_off(report),
        _quiz(report),
        _survey(report),
        _activity(report),
        _erased(report),
        _method(files),
    ]
    return "".join(
        [
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{CSS}</style></head><body><main>",
            f'<header><h1>{escape(title)}</h1><div class="sub">Generated {generated}. '
            f"{escape(period)}.</div></header>",
            *sections,
            "<footer>Made with <code>lessonbot report</code>.</footer>",
            "</main></body></html>\n",
        ]
    )
