"""A trainee's role-play scores per criterion over their drills, as a small phone-sized PNG.

Drawn with matplotlib's object API on the Agg canvas (no pyplot), so nothing
global changes per chart (the font list is set once, by dialogs.fonts) and
charts can be drawn from worker threads.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from babel.dates import format_skeleton

from dialogs.fonts import chart_families
from playbooks.schema import RUBRIC_SCORES

WIDTH_INCHES = 5.4
HEIGHT_INCHES = 3.8
DPI = 160
MAX_DRILLS = 12  # the newest drills shown; older ones would crowd the axis
COLOURS = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#57606a")
TEXT = "#1f2328"
GRID = "#e6e9ed"
# A day on the axis, in the reader's language: "12月2日", "Dec 2".
DAY_SKELETON = "MMMd"
LOCALES = {"zh": "zh_CN", "en": "en"}


@dataclass(frozen=True)
class Series:
    """One criterion's scores, oldest drill first (None where a drill did not judge it)."""

    label: str
    scores: Sequence[int | None]


def day_label(day: date, language: str) -> str:
    """A short month-and-day label in the reader's language: "12月2日" (zh), "Dec 2" (en).

    A datetime is taken as it is (already in the reader's time zone), never moved to UTC.
    """
    if isinstance(day, datetime):
        day = day.date()
    return format_skeleton(DAY_SKELETON, day, locale=LOCALES.get(language, "en"))


def render_progress(
    title: str,
    ticks: Sequence[str | date],
    series: Sequence[Series],
    *,
    language: str = "en",
) -> bytes:
    """Lines of 7/5/3 scores per criterion across the drills named by `ticks`.

    A tick that is a date (the drill's day in the trainee's time zone) is written
    in `language`; a string is shown as it is.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported late: start-up time
    from matplotlib.figure import Figure

    chart_families()  # Latin in DejaVu Sans, Chinese labels in the shipped CJK font
    shown = [
        tick if isinstance(tick, str) else day_label(tick, language) for tick in ticks[-MAX_DRILLS:]
    ]
    positions = list(range(len(shown)))
    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for index, line in enumerate(series):
        values = list(line.scores[-MAX_DRILLS:])
        points = [(x, y) for x, y in zip(positions, values, strict=True) if y is not None]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        # Small offsets keep equal scores of different criteria from hiding each other.
        offset = (index - (len(series) - 1) / 2) * 0.06
        axes.plot(
            list(xs),
            [y + offset for y in ys],
            marker="o",
            linewidth=2,
            color=COLOURS[index % len(COLOURS)],
            label=line.label,
        )
    axes.set_yticks(sorted(RUBRIC_SCORES), [str(s) for s in sorted(RUBRIC_SCORES)])
    axes.set_ylim(2.3, 7.7)
    axes.set_xticks(positions, shown, fontsize=9)
    axes.set_xlim(-0.5, max(len(shown) - 0.5, 0.5))
    axes.grid(axis="y", color=GRID, linewidth=0.8)
    axes.set_axisbelow(True)
    axes.set_title(title, fontsize=12, color=TEXT)
    figure.legend(loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()
