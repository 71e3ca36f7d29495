"""Charts as inline SVG, drawn with matplotlib's object API.

`Figure` plus `savefig(format="svg")` needs no GUI backend and no pyplot state, so the report
runs on a server. Text stays text in the SVG (smaller files, readable by screen readers), and
a fixed hash salt and no date make a rerun on the same data produce the same bytes.

Every function takes values already protected by `privacy`: a hidden value arrives as None and
is simply not drawn.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
PALETTE = ("#0f766e", "#d97706", "#4f46e5", "#be123c", "#65a30d", "#0369a1")
ANSWER_COLOURS = {"yes": "#0f766e", "already": "#5eead4", "no": "#d1d5db"}

STYLE: dict[RcKeyType, Any] = {
    "font.family": "sans-serif",  # DejaVu Sans, which matplotlib ships; browsers fall back
    "font.size": 9,
    "axes.edgecolor": GRID,
    "axes.labelcolor": INK,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlecolor": INK,
    "xtick.color": MUTED,
    "ytick.color": INK,
    "svg.fonttype": "none",
}


@contextmanager
def _style(name: str) -> Iterator[None]:
    # Text properties are taken when artists are made, ids when the SVG is written: both
    # happen inside this block.
    settings: dict[RcKeyType, Any] = {**STYLE, "svg.hashsalt": f"lessonbot-{name}"}
    with matplotlib.rc_context(settings):
        yield


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(
        buffer, format="svg", metadata={"Date": None}, bbox_inches="tight", pad_inches=0.05
    )
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # no XML declaration or DOCTYPE inside HTML


def _clean(ax: Axes, grid_axis: str = "x") -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_axisbelow(True)
    ax.grid(axis=grid_axis, color=GRID, linewidth=0.8)  # type: ignore[arg-type]
    ax.tick_params(length=0)


FULL = 10.6  # inches: the page's full width at 96 px per inch of SVG points
HALF = 5.2


def _wrap(label: str, width: int) -> str:
    return "\n".join(textwrap.wrap(label, width)[:2]) or label


def _empty(values: Sequence[object]) -> bool:
    return not any(v for v in values if v is not None)


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
    with _style(name):
        wrapped = [_wrap(label, label_chars) for label in labels]
        lines = sum(label.count("\n") + 1 for label in wrapped)
        height = 0.55 + 0.2 * lines + 0.1 * len(labels)
        figure = Figure(layout="constrained", figsize=(width, height))
        ax = figure.add_subplot()
        shown = [v or 0 for v in values]
        positions = list(range(len(labels)))
        ax.barh(positions, shown, color=colour, height=0.7)
        ax.set_yticks(positions, wrapped)
        ax.invert_yaxis()
        top = 100 if percent else max(shown)
        for y, value in zip(positions, values, strict=True):
            text = "–" if value is None else f"{value}%" if percent else f"{value:,}"
            ax.text((value or 0) + top * 0.008, y, text, va="center", fontsize=8, color=INK)
        ax.set_xlim(0, top * 1.08)
        if percent:
            ax.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
        ax.set_title(title)
        _clean(ax)
        return _svg(figure)


def panels(name: str, groups: Sequence[tuple[str, Sequence[str], Sequence[int | None]]]) -> str:
    """Small multiples of percentage bars, one panel per (title, labels, percents)."""
    if all(_empty(percents) for _, _, percents in groups):
        return ""
    with _style(name):
        rows = max((len(labels) for _, labels, _ in groups), default=1)
        figure = Figure(layout="constrained", figsize=(FULL, 0.7 + 0.3 * rows))
        axes = figure.subplots(1, len(groups), squeeze=False)[0]
        for i, (ax, (title, labels, percents)) in enumerate(zip(axes, groups, strict=True)):
            shown = [p or 0 for p in percents]
            ax.barh(range(len(labels)), shown, color=PALETTE[i % len(PALETTE)], height=0.7)
            ax.set_yticks(range(len(labels)), [_wrap(label, 24) for label in labels])
            ax.set_ylim(rows - 0.5, -0.5)  # same bar height in every panel, first on top
            for y, p in enumerate(percents):
                ax.text(
                    (p or 0) + 1.5,
                    y,
                    "–" if p is None else f"{p}%",
                    va="center",
                    fontsize=8,
                    color=INK,
                )
            ax.set_xlim(0, 100)
            ax.set_xticks([0, 50, 100], ["0%", "50%", "100%"])
            ax.set_title(title)
            _clean(ax)
        return _svg(figure)


def funnels(name: str, courses: Sequence[tuple[str, Sequence[int | None]]], steps: int) -> str:
    """Per course, the percentage of starters who completed lessons 1 to i."""
    if all(_empty(percents) for _, percents in courses):
        return ""
    with _style(name):
        figure = Figure(layout="constrained", figsize=(FULL, 3.4))
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
                label=label,
            )
        ax.set_xticks(range(steps + 1), ["Started"] + [f"Lesson {n}" for n in range(1, steps + 1)])
        ax.set_ylim(0, 104)
        ax.set_xlim(-0.2, steps + 0.2)
        ax.set_yticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
        ax.set_ylabel("% of those who started")
        ax.legend(frameon=False, loc="lower left", fontsize=9)
        _clean(ax, "y")
        return _svg(figure)


def _month_ticks(weeks: Sequence[date]) -> tuple[list[int], list[str]]:
    """A tick at the first week of each month (of every k-th month on long spans)."""
    firsts = [i for i, w in enumerate(weeks) if i == 0 or w.month != weeks[i - 1].month]
    every = max(1, len(firsts) // 12 + (len(firsts) % 12 > 0))
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
    with _style(name):
        figure = Figure(layout="constrained", figsize=(FULL, 0.4 + 2.1 * len(series)))
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
            _clean(ax, "y")
        ticks, labels = _month_ticks(weeks)
        axes[-1].set_xticks(ticks, labels)
        axes[-1].set_xlim(-0.7, max(len(weeks) - 0.3, 0.3))
        return _svg(figure)


def stacked(
    name: str, questions: Sequence[tuple[str, Sequence[tuple[str, str, int | None]]]]
) -> str:
    """100% bars per survey question: (question, [(answer id, answer, percent)])."""
    if all(_empty([p for _, _, p in answers]) for _, answers in questions):
        return ""
    with _style(name):
        figure = Figure(layout="constrained", figsize=(FULL, 0.9 + 0.45 * len(questions)))
        ax = figure.add_subplot()
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
                if percent >= 5:
                    ax.text(
                        left + percent / 2,
                        y,
                        f"{percent}%",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if answer_id == "yes" else INK,
                    )
                left += percent
        ax.set_yticks(range(len(questions)), [_wrap(q, 60) for q, _ in questions])
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
        entries = sorted(legend.values(), key=lambda entry: entry[0])
        ax.legend(
            [bar for _, _, bar in entries],
            [label for _, label, _ in entries],
            frameon=False,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.1),
            ncol=len(entries),
            fontsize=9,
        )
        _clean(ax)
        return _svg(figure)
