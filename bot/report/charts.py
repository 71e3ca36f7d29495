"""Charts as inline SVG, drawn with matplotlib's object API.

`Figure` plus `savefig(format="svg")` needs no GUI backend and no pyplot state, so the report
runs on a server. Text stays text in the SVG (smaller files, readable by screen readers), and
a fixed hash salt and no date make a rerun on the same data produce the same bytes.

Every function takes values already protected by `privacy`: a hidden value arrives as None and
is simply not drawn.

How text stays readable on every screen: each chart is drawn twice, once at the page's full
width ("wide") and once at the width of a 390-px phone less the page's margins ("narrow", 358
CSS px), each laid out for its width (panels stacked, fewer ticks, legends below). The page
shows the one that fits (see `html.CHART_CSS`) at its natural size and never scales an SVG
down. matplotlib's SVG unit is the point, and a browser draws a point as 4/3 CSS px, so a label
of `MIN_TEXT_PT` points is 11 CSS px on any screen, at any zoom the reader has not changed;
`_svg` refuses a chart with smaller text, so a chart added later can't slip below it either.
Where the phone is narrower still, the chart's box scrolls sideways instead of shrinking it.
"""

from __future__ import annotations

import io
import itertools
import textwrap
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox
from matplotlib.typing import RcKeyType

INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
PALETTE = ("#0f766e", "#d97706", "#4f46e5", "#be123c", "#65a30d", "#0369a1")
ANSWER_COLOURS = {"yes": "#0f766e", "already": "#5eead4", "no": "#d1d5db"}

PX_PER_INCH = 96  # CSS: 1 in = 96 px = 72 pt, so a point is 4/3 px
MIN_TEXT_PT = 8.25  # 11 CSS px: the smallest text the page may show
TEXT_PT = 9  # 12 CSS px: ticks, values, legends
TITLE_PT = 10

FULL = 10.6  # inches: 1,018 CSS px, the page's full width (1,080 less 2 × 28 px of padding)
HALF = 5.1  # inches: 490 px, one column of the page's two-column grid at full width
NARROW = 358 / PX_PER_INCH  # inches: a 390-px phone less the page's 2 × 16 px of padding
WIDE_MIN_VIEWPORT = round(FULL * PX_PER_INCH) + 2 * 28  # narrower screens get "narrow" drawings

STYLE: dict[RcKeyType, Any] = {
    "font.family": "sans-serif",
    # DejaVu Sans, which matplotlib ships, measures the labels; a browser without it falls back
    # to Arial or Helvetica, whose letters are narrower, so what fitted still fits. A short list
    # also keeps the page small: matplotlib writes it into every <text>.
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": TEXT_PT,
    "axes.edgecolor": GRID,
    "axes.labelcolor": INK,
    "axes.titlesize": TITLE_PT,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlecolor": INK,
    "figure.titlesize": TITLE_PT,
    "figure.titleweight": "bold",
    "legend.fontsize": TEXT_PT,
    "xtick.color": MUTED,
    "ytick.color": INK,
    "svg.fonttype": "none",
    # The SVG writer's own resolution (a point per unit): text measured for the layout is then
    # measured once, and the layout drawn is the one measured.
    "figure.dpi": 72,
}
# One line of tick label, in inches: what a bar's slot must leave room for, per line.
LINE_INCHES = TEXT_PT * 1.3 / 72
# The space kept between two tick labels, as a share of the font size: a margin for a browser
# whose fallback font is a little wider than DejaVu Sans.
LABEL_GAP = 0.3


@dataclass(frozen=True)
class Layout:
    """One of a chart's two drawings: for screens as wide as the page, or for a phone."""

    variant: str  # "wide" or "narrow": the SVG's class, which the page's CSS picks by
    inches: float

    @property
    def narrow(self) -> bool:
        return self.variant == "narrow"


Draw = Callable[[Layout], Figure]


@contextmanager
def _style(name: str) -> Iterator[None]:
    # Text properties are taken when artists are made, ids when the SVG is written: both
    # happen inside this block.
    settings: dict[RcKeyType, Any] = {**STYLE, "svg.hashsalt": f"lessonbot-{name}"}
    with matplotlib.rc_context(settings):
        yield


def _both(name: str, draw: Draw, wide: float = FULL) -> str:
    """The wide and the narrow drawing of one chart, one <svg> each, wide first."""
    drawings = []
    for layout in (Layout("wide", wide), Layout("narrow", NARROW)):
        with _style(f"{name}-{layout.variant}"):
            drawings.append(_svg(draw(layout), layout.variant))
    return "".join(drawings)


def _svg(figure: Figure, variant: str) -> str:
    """The figure as an <svg> element of class `variant`, its labels untangled."""
    _untangle(figure)
    _check_text_sizes(figure)
    buffer = io.StringIO()
    # No bbox_inches="tight": the SVG must be exactly as wide as the figure, the width the page
    # planned for; constrained layout keeps everything inside it. No metadata block either:
    # its RDF elements are not valid in an HTML page.
    metadata = {"Date": None, "Creator": None, "Format": None, "Type": None}
    figure.savefig(buffer, format="svg", metadata=metadata)
    text = buffer.getvalue()
    svg = text[text.index("<svg") :]  # no XML declaration or DOCTYPE inside HTML
    return f'<svg class="{variant}"' + svg.removeprefix("<svg")


def _check_text_sizes(figure: Figure) -> None:
    for text in figure.findobj(Text):
        drawn = isinstance(text, Text) and text.get_visible() and text.get_text().strip()
        if drawn and float(text.get_fontsize()) < MIN_TEXT_PT:
            raise ValueError(
                f"chart text {text.get_text()!r} is {text.get_fontsize()} pt, below "
                f"{MIN_TEXT_PT} pt (11 CSS px)"
            )


# -- labels that never overlap -----------------------------------------------------------------


def _untangle(figure: Figure) -> None:
    """Rotate, thin or make room for tick labels until none touches another, on every axis.

    This runs on every chart, so one added later is looked after too. x labels turn upright
    (boxes of labels at 45° still overlap) and then show every k-th; y labels, the names of
    bars, are never dropped: the figure grows taller instead.

    The layout it ends on is kept: writing the SVG then draws without laying out again, which
    would take as long as drawing. (Should it not settle, the SVG is laid out anew as it is.)
    """
    for _ in range(4):
        problems = _lay_out(figure)
        changed = False
        for ax in figure.axes:
            changed |= _fit_x_labels(ax)
            changed |= _fit_y_labels(figure, ax)
        if not changed:
            for problem in problems:  # this layout is the last: what didn't fit is news now
                warnings.warn(problem.message, problem.category, stacklevel=2)
            figure.set_layout_engine("none")
            return


def _lay_out(figure: Figure) -> list[warnings.WarningMessage]:
    """Lay the figure out; return the warnings that it didn't fit, which a fix may answer."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("always", "constrained_layout not applied", UserWarning)
        figure.draw_without_rendering()
    other = [w for w in caught if "constrained_layout not applied" not in str(w.message)]
    for warning in other:  # anything else, as it came
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return [w for w in caught if w not in other]


def _legend_below(figure: Figure, handles: Sequence[Any], labels: Sequence[str]) -> None:
    """A legend under the chart, in as many columns as fit the figure's width."""
    columns = len(labels)
    while True:
        legend = figure.legend(
            handles, labels, frameon=False, loc="outside lower center", ncols=columns
        )
        _lay_out(figure)
        width = legend.get_window_extent().width
        if columns == 1 or width <= figure.bbox.width:
            return
        legend.remove()  # set_ncols does not lay out a legend again: make it anew
        columns = max(1, min(columns - 1, int(figure.bbox.width // (width / columns))))


def _shown_labels(axis: Axis) -> list[Text]:
    return [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text().strip()]


def _boxes(labels: Sequence[Text]) -> list[Bbox]:
    return [label.get_window_extent() for label in labels]


def _gap_px(labels: Sequence[Text]) -> float:
    points = max(float(label.get_fontsize()) for label in labels)
    return points * LABEL_GAP * labels[0].figure.dpi / 72


def _crowded(boxes: Sequence[Bbox], gap: float, horizontal: bool) -> bool:
    spans = sorted((b.x0, b.x1) if horizontal else (b.y0, b.y1) for b in boxes)
    return any(nxt[0] - prev[1] < gap for prev, nxt in itertools.pairwise(spans))


def _fit_x_labels(ax: Axes) -> bool:
    labels = _shown_labels(ax.xaxis)
    if len(labels) < 2 or not _crowded(_boxes(labels), _gap_px(labels), horizontal=True):
        return False
    if labels[0].get_rotation() != 90:
        for label in labels:
            label.set(rotation=90, ha="center", va="top", rotation_mode="default")
        return True
    for label in labels[1::2]:  # still crowded upright: every other one, again if need be
        label.set_visible(False)
    return True


def _fit_y_labels(figure: Figure, ax: Axes) -> bool:
    labels = _shown_labels(ax.yaxis)
    if len(labels) < 2:
        return False
    boxes = _boxes(labels)
    gap = _gap_px(labels)
    if not _crowded(boxes, gap, horizontal=False):
        return False
    # Centres are spread in proportion to the figure's height: grow it by what the most
    # crowded neighbours lack.
    spans = sorted((b.y0, b.y1) for b in boxes)
    need = max(
        ((a1 - a0) + (b1 - b0)) / 2 + gap for (a0, a1), (b0, b1) in itertools.pairwise(spans)
    )
    have = min((b0 + b1) / 2 - (a0 + a1) / 2 for (a0, a1), (b0, b1) in itertools.pairwise(spans))
    width, height = figure.get_size_inches()
    figure.set_size_inches(width, height * min(3.0, need / max(have, 1.0)) + 0.1)
    return True


# -- shared pieces -----------------------------------------------------------------------------


def _clean(ax: Axes, grid_axis: str = "x") -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_axisbelow(True)
    ax.grid(axis=grid_axis, color=GRID, linewidth=0.8)  # type: ignore[arg-type]
    ax.tick_params(length=0)


def _wrap(label: str, width: int, lines: int = 2) -> str:
    """At most `lines` lines of about `width` characters; "…" where words were left out."""
    wrapped = textwrap.wrap(label, width)
    if len(wrapped) > lines:
        rest = " ".join(wrapped[lines - 1 :])
        wrapped = [*wrapped[: lines - 1], textwrap.shorten(rest, width, placeholder=" …")]
    return "\n".join(wrapped) or label


def _title(figure: Figure, ax: Axes, title: str, layout: Layout) -> None:
    """The chart's title, on the left. On a phone it spans the figure, above the bars' labels,
    since the axes alone (right of the labels) leave too little room."""
    if layout.narrow:
        figure.suptitle(_wrap(title, 40, lines=3), x=0.01, ha="left")
    else:
        ax.set_title(title)


def _empty(values: Sequence[object]) -> bool:
    return not any(v for v in values if v is not None)


def _percent_axis(ax: Axes, ticks: Sequence[int] = (0, 25, 50, 75, 100)) -> None:
    ax.set_xlim(0, 100)
    ax.set_xticks(list(ticks), [f"{t}%" for t in ticks])


# -- the charts --------------------------------------------------------------------------------


def bars(
    name: str,
    labels: Sequence[str],
    values: Sequence[int | None],
    *,
    title: str,
    percent: bool = False,
    colour: str = PALETTE[0],
    width: float = FULL,
    label_chars: int = 70,
) -> str:
    """Horizontal bars in the order given, each with its value at its end; "" if no data."""
    if _empty(values):
        return ""

    def draw(layout: Layout) -> Figure:
        chars, lines = (min(label_chars, 22), 3) if layout.narrow else (label_chars, 2)
        wrapped = [_wrap(label, chars, lines) for label in labels]
        tallest = max(label.count("\n") + 1 for label in wrapped)
        slot = tallest * LINE_INCHES + 0.14  # every bar's row fits the tallest label
        height = (1.0 if layout.narrow else 0.75) + slot * len(labels)
        figure = Figure(layout="constrained", figsize=(layout.inches, height))
        ax = figure.add_subplot()
        shown = [v or 0 for v in values]
        positions = list(range(len(labels)))
        ax.barh(positions, shown, color=colour, height=0.7)
        ax.set_yticks(positions, wrapped)
        ax.set_ylim(len(labels) - 0.5, -0.5)  # first on top; no margins beyond the slots
        top = 100 if percent else max(shown)
        for y, value in zip(positions, values, strict=True):
            text = "–" if value is None else f"{value}%" if percent else f"{value:,}"
            ax.text((value or 0) + top * 0.01, y, text, va="center", color=INK)
        # Room at the right for the longest value label: more of the axis on a phone.
        ax.set_xlim(0, top * (1.3 if layout.narrow else 1.08))
        if percent:
            ticks = (0, 50, 100) if layout.narrow else (0, 25, 50, 75, 100)
            ax.set_xticks(list(ticks), [f"{t}%" for t in ticks])
        elif layout.narrow:
            ax.xaxis.set_major_locator(MaxNLocator(4))
        _title(figure, ax, title, layout)
        _clean(ax)
        return figure

    return _both(name, draw, width)


Interval = tuple[str, float | None, float | None, float | None]  # label, value, low, high


def intervals(name: str, rows: Sequence[Interval], *, title: str) -> str:
    """Estimates with their 95% intervals, one row each, around a line at 0; in percentage
    points (the values are fractions). A row without an estimate keeps its label and shows
    none, so the reader sees that it is missing; "" if no row has one."""
    if _empty([value for _, value, _, _ in rows]) and not any(v == 0 for _, v, _, _ in rows):
        return ""

    def draw(layout: Layout) -> Figure:
        labels = [label for label, *_ in rows]
        height = (1.1 if layout.narrow else 0.85) + 0.42 * len(rows)
        figure = Figure(layout="constrained", figsize=(layout.inches, height))
        ax = figure.add_subplot()
        ax.axvline(0, color=MUTED, linewidth=1)
        ends = [0.0]
        for y, (_, value, low, high) in enumerate(rows):
            if value is None or low is None or high is None:
                ax.text(0, y, " not enough answers", va="center", color=MUTED)
                continue
            ax.errorbar(
                [100 * value],
                [y],
                xerr=[[100 * (value - low)], [100 * (high - value)]],
                fmt="o",
                color=PALETTE[0],
                capsize=4,
            )
            ax.text(100 * high, y - 0.28, f" {100 * value:+.1f}", va="center", color=INK)
            ends += [100 * low, 100 * high]
        span = max(abs(min(ends)), abs(max(ends)), 5.0)
        ax.set_xlim(-span * 1.25, span * 1.25)
        ax.set_yticks(list(range(len(rows))), labels)
        ax.set_ylim(len(rows) - 0.5, -0.7)
        if layout.narrow:
            ax.xaxis.set_major_locator(MaxNLocator(5))
        _title(figure, ax, title, layout)
        _clean(ax)
        return figure

    return _both(name, draw)


def panels(name: str, groups: Sequence[tuple[str, Sequence[str], Sequence[int | None]]]) -> str:
    """Small multiples of percentage bars, one panel per (title, labels, percents).

    Side by side on a wide screen, one above the other on a phone.
    """
    if all(_empty(percents) for _, _, percents in groups):
        return ""
    rows = max((len(labels) for _, labels, _ in groups), default=1)

    def draw(layout: Layout) -> Figure:
        if layout.narrow:
            # Each panel as tall as its bars (plus its title and axis), so bars are as thick
            # in every panel.
            heights = [max(len(labels), 1) * 0.3 + 0.6 for _, labels, _ in groups]
            figure = Figure(layout="constrained", figsize=(layout.inches, sum(heights)))
            grid = {"height_ratios": heights}
            axes = figure.subplots(len(groups), 1, squeeze=False, gridspec_kw=grid)[:, 0]
        else:
            figure = Figure(layout="constrained", figsize=(layout.inches, 0.7 + 0.3 * rows))
            axes = figure.subplots(1, len(groups), squeeze=False)[0]
        for i, (ax, (title, labels, percents)) in enumerate(zip(axes, groups, strict=True)):
            shown = [p or 0 for p in percents]
            ax.barh(range(len(labels)), shown, color=PALETTE[i % len(PALETTE)], height=0.7)
            ax.set_yticks(range(len(labels)), [_wrap(label, 24) for label in labels])
            # First on top; side by side, every panel as many rows as the longest.
            slots = len(labels) if layout.narrow else rows
            ax.set_ylim(slots - 0.5, -0.5)
            for y, p in enumerate(percents):
                label = "–" if p is None else f"{p}%"
                ax.text((p or 0) + 1.5, y, label, va="center", color=INK)
            _percent_axis(ax, (0, 50, 100))
            ax.set_xlim(0, 112 if layout.narrow else 100)  # room for "100%" beside a bar
            ax.set_title(title)
            _clean(ax)
        return figure

    return _both(name, draw)


def funnels(name: str, courses: Sequence[tuple[str, Sequence[int | None]]], steps: int) -> str:
    """Per course, the percentage of starters who completed lessons 1 to i.

    On a phone the lessons are numbered under an axis title, and the legend goes below.
    """
    if all(_empty(percents) for _, percents in courses):
        return ""

    def draw(layout: Layout) -> Figure:
        height = 3.0 + 0.22 * len(courses) if layout.narrow else 3.4
        figure = Figure(layout="constrained", figsize=(layout.inches, height))
        ax = figure.add_subplot()
        for i, (title, percents) in enumerate(courses):
            points = [(x, p) for x, p in enumerate(percents) if p is not None]
            last = percents[-1] if percents else None
            label = title + (f": {last}% completed" if last is not None else "")
            ax.plot(
                [x for x, _ in points],
                [p for _, p in points],
                marker="o",
                color=PALETTE[i % len(PALETTE)],
                linewidth=2,
                markersize=5,
                label=_wrap(label, 44) if layout.narrow else label,
            )
        if layout.narrow:
            ax.set_xticks(range(steps + 1), ["Start"] + [str(n) for n in range(1, steps + 1)])
            ax.set_xlabel("Lessons completed")
            figure.legend(frameon=False, loc="outside lower left")
        else:
            names = ["Started"] + [f"Lesson {n}" for n in range(1, steps + 1)]
            ax.set_xticks(range(steps + 1), names)
            ax.legend(frameon=False, loc="lower left")
        ax.set_ylim(0, 104)
        ax.set_xlim(-0.2, steps + 0.2)
        ax.set_yticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
        ax.set_ylabel("% of those who started")
        _clean(ax, "y")
        return figure

    return _both(name, draw)


def _month_ticks(weeks: Sequence[date], most: int = 12) -> tuple[list[int], list[str]]:
    """A tick at the first week of each month (of every k-th month on long spans)."""
    firsts = [i for i, w in enumerate(weeks) if i == 0 or w.month != weeks[i - 1].month]
    every = max(1, -(-len(firsts) // most))
    picked = firsts[::every]
    labels = [
        weeks[i].strftime("%b %Y" if n == 0 or weeks[i].month == 1 else "%b")
        for n, i in enumerate(picked)
    ]
    return picked, labels


def weekly(
    name: str, weeks: Sequence[date], series: Sequence[tuple[str, Sequence[int | None]]]
) -> str:
    """Counts per ISO week, one panel of bars per (title, values), sharing the time axis.

    Separate panels, not one chart with two scales: a few hundred certificates next to
    thousands of lessons would otherwise look like nothing.
    """
    if all(_empty(values) for _, values in series):
        return ""

    def draw(layout: Layout) -> Figure:
        per_panel = 1.9 if layout.narrow else 2.1
        size = (layout.inches, 0.4 + per_panel * len(series))
        figure = Figure(layout="constrained", figsize=size)
        axes = figure.subplots(len(series), 1, sharex=True, squeeze=False)[:, 0]
        xs = list(range(len(weeks)))
        for i, (ax, (title, values)) in enumerate(zip(axes, series, strict=True)):
            ax.bar(
                [x for x, v in zip(xs, values, strict=True) if v is not None],
                [v for v in values if v is not None],
                color=PALETTE[i % len(PALETTE)],
                width=0.75,
            )
            ax.set_title(title)
            ax.yaxis.set_major_formatter(lambda value, _: f"{value:,.0f}")
            if layout.narrow:
                ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))
            _clean(ax, "y")
        ticks, labels = _month_ticks(weeks, 6 if layout.narrow else 12)
        axes[-1].set_xticks(ticks, labels)
        axes[-1].set_xlim(-0.7, max(len(weeks) - 0.3, 0.3))
        return figure

    return _both(name, draw)


def stacked(
    name: str, questions: Sequence[tuple[str, Sequence[tuple[str, str, int | None]]]]
) -> str:
    """100% bars per survey question: (question, [(answer id, answer, percent)])."""
    if all(_empty([p for _, _, p in answers]) for _, answers in questions):
        return ""

    def draw(layout: Layout) -> Figure:
        chars, lines = (20, 4) if layout.narrow else (60, 2)
        wrapped = [_wrap(q, chars, lines) for q, _ in questions]
        tallest = max(label.count("\n") + 1 for label in wrapped)
        slot = max(0.45, tallest * LINE_INCHES + 0.14)
        figure = Figure(layout="constrained", figsize=(layout.inches, 0.9 + slot * len(questions)))
        ax = figure.add_subplot()
        # A percentage is written inside its part of the bar only where it fits there.
        legend = _stack_bars(ax, questions, inside_from=20 if layout.narrow else 5)
        ax.set_yticks(range(len(questions)), wrapped)
        ax.set_ylim(len(questions) - 0.5, -0.5)
        _percent_axis(ax, (0, 50, 100) if layout.narrow else (0, 25, 50, 75, 100))
        entries = sorted(legend.values(), key=lambda entry: entry[0])
        _clean(ax)
        _legend_below(figure, [bar for _, _, bar in entries], [label for _, label, _ in entries])
        return figure

    return _both(name, draw)


def _stack_bars(
    ax: Axes,
    questions: Sequence[tuple[str, Sequence[tuple[str, str, int | None]]]],
    inside_from: int,
) -> dict[str, tuple[int, str, Any]]:
    """Draw each question's answers end to end; return the legend entries, by answer label."""
    legend: dict[str, tuple[int, str, Any]] = {}
    for y, (_, answers) in enumerate(questions):
        left = 0
        for order, (answer_id, label, percent) in enumerate(answers):
            if percent is None:
                continue
            colour = ANSWER_COLOURS.get(answer_id, PALETTE[(order + 2) % len(PALETTE)])
            bar = ax.barh(y, percent, left=left, color=colour, height=0.62)
            rank = (
                list(ANSWER_COLOURS).index(answer_id)
                if answer_id in ANSWER_COLOURS
                else len(ANSWER_COLOURS) + order
            )
            legend.setdefault(label, (rank, label, bar))
            if percent >= inside_from:
                ax.text(
                    left + percent / 2,
                    y,
                    f"{percent}%",
                    ha="center",
                    va="center",
                    color="white" if answer_id == "yes" else INK,
                    clip_on=True,  # inside the axes only, never in the way of the layout
                )
            left += percent
    return legend
