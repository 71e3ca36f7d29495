"""report.html: one self-contained page a funder can open, print or forward.

No scripts, no external files, no web fonts: inline CSS and inline SVG only, so the page shows
the same offline, in an email attachment or years later. Every text that comes from the
database or a lesson file goes through `escape`.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from html import escape

from bot.content.library import Library
from bot.report import charts, labels
from bot.report.cells import Column, Points
from bot.report.privacy import (
    MIN_COUNT,
    SMALL,
    SUPPRESSED_COMPLEMENT,
    SUPPRESSED_SMALL,
    Count,
    Share,
)
from bot.report.tables import Cell, Report, Table

CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --accent:#0f766e; --soft:#f0fdfa; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
       Arial, sans-serif; color:var(--ink); background:#fff; overflow-wrap:break-word; }
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
.grid { display:grid; grid-template-columns:repeat(auto-fit, minmax(min(100%, 358px), 1fr));
        gap:8px 28px; align-items:start; }
.grid > * { min-width:0; }  /* else a wide table widens its column instead of scrolling */
.scroll { overflow-x:auto; margin:6px 0 12px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
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
/* A 390-px phone keeps 358 px for the page: what the narrow charts are drawn for. */
@media (max-width:600px) { main { padding:20px 16px 40px; } .method { padding:4px 12px 8px; } }
"""

# Each chart comes as two SVGs (charts.py): "wide", drawn for the page's full width, and
# "narrow", drawn for a phone. A screen shows the one that fits, at its natural size: the SVGs
# are never scaled down, so their text stays as large as it was drawn (11 CSS px at least).
# A screen narrower than even the narrow drawing scrolls the chart's box instead. On paper
# the wide drawing is shrunk to the page, as a printed figure would be.
CHART_CSS = f"""
.chart {{ margin:10px 0 6px; overflow-x:auto; }}
.chart svg {{ display:block; }}
.chart svg.wide {{ display:none; }}
@media (min-width:{charts.WIDE_MIN_VIEWPORT}px) {{
  .chart svg.wide {{ display:block; }} .chart svg.narrow {{ display:none; }}
}}
@media print {{
  .chart svg.wide {{ display:block; max-width:100%; height:auto; }}
  .chart svg.narrow {{ display:none; }}
}}
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
    if isinstance(cell, str):
        return escape(cell)
    if isinstance(cell, int):
        return f"{cell:,}"
    return escape(cell.html())  # a Share, or any other cell kind that prints itself


def table(data: Table, rows: Sequence[int] | None = None, *, merge_first: bool = False) -> str:
    """A table's page columns; `merge_first` prints a repeated first column only once."""
    shown = [i for i, column in enumerate(data.columns) if column.html]
    picked = range(len(data.rows)) if rows is None else rows
    numeric = {
        i
        for i in shown
        if data.rows
        and all(
            not isinstance(data.rows[r][i], str) or data.rows[r][i] == ""  # numbers of any kind
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
    markup = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return _scrolling(markup, data.title)


def _scrolling(table_html: str, name: str) -> str:
    """A table in a box of its own that scrolls sideways on a narrow screen, so the page never
    gets wider than the screen. Focusable, so that it scrolls from the keyboard too."""
    label = escape(f"{name} (table)")
    return f'<div class="scroll" role="region" aria-label="{label}" tabindex="0">{table_html}</div>'


def _details(summary: str, body: str) -> str:
    """A part of the page folded away under its summary: the long tables a reader opens."""
    return f"<details><summary>{summary}</summary>{body}</details>"


def _chart(svg: str, caption: str) -> str:
    """A chart's drawings (charts.py gives a wide and a narrow one), each named by `caption`."""
    if not svg:
        return f'<p class="note">{escape(caption)}: no data yet.</p>'
    return f'<figure class="chart">{_SVG_START.sub(_titled(caption), svg)}</figure>'


_SVG_START = re.compile(r"<svg\b[^>]*>")
_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
# What refers to an id inside an SVG: id="x", href="#x" / xlink:href="#x", url(#x) and the
# aria-labelledby that `_titled` adds.
_ID_REFERENCE = re.compile(r'(\bid="|href="#|url\(#|\baria-labelledby=")([^"#)]+)')
TITLE_ID = "title"  # before `_unique_ids` makes it the SVG's own


def _titled(caption: str) -> Callable[[re.Match[str]], str]:
    """An SVG's accessible name: role="img", and a <title> that aria-labelledby points at."""

    def add(start: re.Match[str]) -> str:
        tag = start.group(0)
        return (
            f'{tag[:-1]} role="img" aria-labelledby="{TITLE_ID}">'
            f'<title id="{TITLE_ID}">{escape(caption)}</title>'
        )

    return add


def _unique_ids(page: str) -> str:
    """Make every id inside every inline SVG unique in the page.

    matplotlib numbers its ids per figure ("patch_1", "text_1", clip paths and markers by hash)
    and every chart is two figures, so without this ids repeat between SVGs; an id then points
    at whichever element comes first. Each SVG's ids and the references to them get the prefix
    "chartN-", N counting the SVGs in the page: the same page gives the same bytes.
    """
    numbers = itertools.count(1)

    def prefix(svg: re.Match[str]) -> str:
        own = f"chart{next(numbers)}-"
        return _ID_REFERENCE.sub(lambda ref: f"{ref.group(1)}{own}{ref.group(2)}", svg.group(0))

    return _SVG.sub(prefix, page)


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
    return f'<div class="cards">{"".join(cards)}</div>'


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
            _details(
                "The funnel of each course, lesson by lesson",
                table(funnel, merge_first=True),
            ),
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
            _details(
                "Every question",
                table(quiz, merge_first=True),
            ),
        ]
    )


def _survey(report: Report) -> str:
    survey = report.tables["survey"]
    # One bar per question of each survey lesson: the same question asked in two lessons is
    # two bars, each adding up to 100%, told apart by the lesson (first, where a long question
    # cut short on a phone can't take it away).
    answers: dict[tuple[str, str], list[tuple[str, str, int | None]]] = {}
    for row in survey.rows:
        if isinstance(row[7], Share):
            key = (str(row[1]), str(row[3]))
            answers.setdefault(key, []).append((str(row[4]), str(row[5]), row[7].percent))
    asked = Counter(question for _, question in answers)
    questions = [
        (f"{lesson}: {question}" if asked[question] > 1 else question, shares)
        for (lesson, question), shares in answers.items()
    ]
    svg = charts.stacked("survey", questions)
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


# -- evidence ---------------------------------------------------------------------------------


def _with_interval(row: tuple[Cell, ...], value: int, unit: str = "") -> str:
    """ "+10.1 (6.3 to 13.8)" from three Points cells in a row, or the reason it is hidden."""
    point, low, high = row[value], row[value + 1], row[value + 2]
    if not isinstance(point, Points) or not point.shown:
        return point.hidden if isinstance(point, Points) else ""
    assert isinstance(low, Points) and isinstance(high, Points)
    return f"{point.html()}{unit} ({low.html()} to {high.html()})"


def _view(
    source: Table, slug: str, columns: Sequence[tuple[str, str]], rows: list[tuple[Cell, ...]]
) -> Table:
    """A page-only view of `source`'s figures (its CSV has them as separate numbers)."""
    return Table(
        slug=slug,
        title=source.title,
        columns=tuple(Column(key, label, nowrap=True) for key, label in columns),
        rows=tuple(rows),
        csv=False,
    )


def _evidence(report: Report) -> str:
    tables = report.tables
    evidence = report.data.evidence
    response = tables["survey_response"]
    measured = tables["measured_and_attributed"]
    keys = [c.key for c in measured.columns]
    m, a, n = (
        keys.index("measured_change_pp"),
        keys.index("attributed_pp"),
        keys.index("attributed_not_anyway_pp"),
    )
    said = _view(
        measured,
        "measured_and_attributed_view",
        [
            ("wave", "Wave"),
            ("arm", "Arm"),
            ("measured", "Measured change in selling online (points)"),
            ("said", "Say the lessons changed something (%)"),
            ("anyway", "…and would not have anyway (%)"),
        ],
        [
            (row[1], row[3], _points(row[m]), _with_interval(row, a), _with_interval(row, n))
            for row in measured.rows
        ],
    )
    parts = [
        "<h2>What changed, and how sure we are</h2>",
        "<p>Learners who agree to the profile questions answer five questions about their "
        "business at the start (the baseline). The same questions come again 3, 5 and 12 months "
        "after their first finished course, with two more: did the lessons change anything, and "
        "would they have made the change anyway. Every invitation is counted, so the response "
        "rate shows how far the answers speak for everyone.</p>",
        "<h3>Response</h3>",
        table(response, merge_first=True),
        "<h3>Measured change, and the change learners attribute to the lessons</h3>",
        "<p>The measured change is the same learners’ answers at the wave minus at baseline; "
        "businesses change over months anyway, so it is not all the lessons’ doing. "
        "The attributed change is what learners say, as the seed programme asked it. "
        "Intervals are 95%.</p>",
        table(said, merge_first=True),
    ]
    if evidence.has_arms:
        difference = tables["arm_difference"]
        keys = [c.key for c in difference.columns]
        d = keys.index("difference_pp")
        view = _view(
            difference,
            "arm_difference_view",
            [
                ("wave", "Wave"),
                ("item", "Outcome"),
                ("encouraged", "Encouraged %"),
                ("comparison", "Comparison %"),
                ("difference", "Difference (points, 95% CI)"),
                ("mde", "Smallest detectable"),
            ],
            [
                (
                    row[1],
                    row[3],
                    row[keys.index("encouraged_pct")],
                    row[keys.index("comparison_pct")],
                    _with_interval(row, d),
                    row[keys.index("mde_pp")],
                )
                for row in difference.rows
            ],
        )
        chart_rows = [
            (str(row[1]), _fraction(row[d]), _fraction(row[d + 1]), _fraction(row[d + 2]))
            for row in difference.rows
            if row[2] == "selling-online"
        ]
        parts += [
            "<h3>Encouraged minus comparison</h3>",
            "<p>New learners were assigned at random: reminders on (encouraged) or off "
            "(comparison). Nothing else differs, so a difference between the arms is the "
            "reminders’ effect; where the interval includes 0 the data can't tell it from "
            "chance. A difference smaller than the smallest detectable one may be real but "
            "unseen.</p>",
            _chart(
                charts.intervals(
                    "arm-difference",
                    chart_rows,
                    title="Selling online: encouraged minus comparison (points)",
                ),
                "Difference between the arms in selling online, with 95% intervals",
            ),
            table(view, merge_first=True),
            _details(
                "The arms at baseline (balance)",
                table(tables["arm_balance"]),
            ),
        ]
    parts += [
        _details(
            "Attrition: baseline respondents who did not answer a wave",
            table(tables["attrition"], merge_first=True),
        ),
        _details(
            "Change from baseline for every outcome",
            table(tables["outcome_change"], merge_first=True),
        ),
        _details(
            "Response by group",
            table(tables["survey_response_by_group"], merge_first=True),
        ),
        _details(
            "Outcomes by gender, youth, disability, minority and country",
            table(tables["outcomes_by_group"], merge_first=True),
        ),
        "<h3>In the seed programme’s form</h3>",
        "<p>Reach, and the outcomes five months after the first course, in the rows of the "
        "programme’s 2022 report, to set side by side with it.</p>",
        table(tables["seed_programme_form"]),
    ]
    if "costs" in tables:
        parts += ["<h3>Cost per result</h3>", table(tables["costs"])]
    parts.append(_frameworks())
    return "".join(parts)


def _points(cell: Cell) -> str:
    return cell.html() if isinstance(cell, Points) else ""


def _fraction(cell: Cell) -> float | None:
    """A Points cell's value for a chart; None where it is not shown."""
    return cell.value if isinstance(cell, Points) and cell.shown else None


def _frameworks() -> str:
    return "".join(
        [
            '<aside class="frameworks"><h3>How this maps to what funders use</h3><ul>',
            "<li><b>Kirkpatrick level 1, reaction:</b> lessons finished and where learners stop. "
            "<b>Level 2, learning:</b> quiz answers right at the first try. <b>Level 3, "
            "behaviour:</b> the change from baseline in selling online, two-step verification "
            "and applying for a programme. <b>Level 4, results:</b> customers a week and "
            "businesses running, at 5 and 12 months.</li>",
            "<li><b>DCED Standard, attributable change:</b> the baseline and the waves measure "
            "the change; the randomised arms, where the programme runs them, attribute the part "
            "the encouragement caused; learners’ own attribution is shown beside it as the "
            "weaker evidence it is.</li>",
            "</ul></aside>",
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
            _details(
                "Every week",
                table(weekly),
            ),
        ]
    )


def _erased(report: Report) -> str:
    if "erased" not in report.tables:
        return "".join(
            [
                "<h2>Learners who erased their data</h2>",
                "<p>What learners who erased their data leave behind says neither which "
                "channel they used nor when they first wrote, so this report, of some learners "
                "only, leaves them out.</p>",
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
            _details(
                "Lessons they had completed",
                table(erased, lessons),
            ),
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
            _csv_method(),
            "</section>",
        ]
    )


def _csv_method() -> str:
    return "".join(
        [
            "<p>The CSV files are UTF-8, and their numbers stay numbers, for a spreadsheet to "
            "add up: percentages are whole numbers without “%”, and a hidden cell is empty. "
            "Next to each column that can have hidden cells, a column of the same name ending "
            "in <code>_flag</code> (<code>learners_flag</code> beside <code>learners</code>) "
            "says why a cell is empty:</p><ul>",
            f"<li><code>{SUPPRESSED_SMALL}</code>: fewer than {MIN_COUNT} learners (“&lt;5” "
            "on this page); for a percentage, of fewer than "
            f"{MIN_COUNT} learners, or next to such a count;</li>",
            f"<li><code>{SUPPRESSED_COMPLEMENT}</code>: hidden so that a small cell can't be "
            "worked out by subtraction from the total (“hidden” on this page);</li>",
            "<li>empty: nothing is hidden. An empty cell with an empty flag has no value, "
            "like the percentage of those who preferred not to say.</li></ul>",
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
    if data.period.start or data.period.end:
        period = f"About the {data.period.describe()}, and what they did since"
    files = [f"{each.slug}.csv" for each in report.tables.values() if each.csv]
    title = f"{data.programme}: impact report" if data.programme else "LessonBot impact report"
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
        _evidence(report),
        _activity(report),
        _erased(report),
        _method(files),
    ]
    page = "".join(
        [
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{CSS}{CHART_CSS}</style></head><body><main>",
            f'<header><h1>{escape(title)}</h1><div class="sub">Generated {generated}. '
            f"{escape(period)}.</div></header>",
            *sections,
            "<footer>Made with <code>lessonbot report</code>.</footer>",
            "</main></body></html>\n",
        ]
    )
    return _unique_ids(page)
