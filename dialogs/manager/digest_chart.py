"""The digest's chart: visits and debriefs per rep, this week against last, as a phone-sized PNG.

Drawn with matplotlib's object API on the Agg canvas (no pyplot): nothing
global is touched per chart (the font list is set once, by dialogs.fonts), so
charts can be drawn from worker threads.
"""

from __future__ import annotations

import io
import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dialogs.fonts import chart_families

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# 864 pixels wide: a phone shows the picture at full width, so 1 pt is
# about 1 dp on screen and 13 pt text reads like a normal chat message.
WIDTH_INCHES = 5.4
DPI = 160
ROW_INCHES = 0.46
TITLE_LINE_INCHES = 0.3
PANEL_TITLE_INCHES = 0.45
FOOTER_INCHES = 0.75  # the x axis numbers and the legend
NAMES_INCHES = 1.75  # 16 Latin characters of a name at 12 pt
GAP_INCHES = 0.3
RIGHT_INCHES = 0.2
MAX_ROWS = 25
MIN_ROWS = 3  # a team of one still gets a chart tall enough to read
MAX_NAME_WIDTH = 16  # in Latin characters
TITLE_WIDTH = 40
THIS_WEEK = "#1f6feb"
LAST_WEEK = "#c4ccd6"
TEXT = "#1f2328"
MUTED = "#6e7781"


@dataclass(frozen=True)
class ChartRow:
    """One rep's bars."""

    name: str
    visits: int
    visits_before: int
    debriefs: int
    debriefs_before: int


@dataclass(frozen=True)
class ChartLabels:
    """The chart's words, in the reader's language (plain text, no HTML)."""

    title: str
    subtitle: str
    visits: str
    debriefs: str
    this_week: str
    last_week: str
    more: str  # shown under the chart when some reps did not fit


def render_chart(rows: Sequence[ChartRow], labels: ChartLabels) -> bytes:
    """Two panels side by side sharing the rep names: visits done, and debriefs."""
    # matplotlib is imported here, not at module level: it costs ~0.5 s of start-up
    # that a bot which has not drawn a chart yet does not need to pay.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    chart_families()  # Latin in DejaVu Sans, Chinese names in the shipped CJK font
    shown = list(rows[:MAX_ROWS])
    subtitle = labels.subtitle if len(rows) <= len(shown) else f"{labels.subtitle}\n{labels.more}"
    title = "\n".join([*textwrap.wrap(labels.title, TITLE_WIDTH), subtitle])
    top = TITLE_LINE_INCHES * (title.count("\n") + 1) + PANEL_TITLE_INCHES
    height = top + ROW_INCHES * max(len(shown), MIN_ROWS) + FOOTER_INCHES
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI)
    FigureCanvasAgg(figure)
    visits_axes, debriefs_axes = _panels(figure, height, top)
    positions = [len(shown) - 1 - index for index in range(len(shown))]  # first rep on top
    _panel(visits_axes, labels.visits, positions, [(r.visits, r.visits_before) for r in shown])
    _panel(
        debriefs_axes, labels.debriefs, positions, [(r.debriefs, r.debriefs_before) for r in shown]
    )
    visits_axes.set_yticks(positions, [_short(row.name) for row in shown], fontsize=12)
    debriefs_axes.set_yticks(positions, [""] * len(shown))
    padding = max(MIN_ROWS - len(shown), 0) / 2  # a short team sits in the middle
    for axes in (visits_axes, debriefs_axes):
        axes.set_ylim(-0.7 - padding, len(shown) - 0.3 + padding)
    figure.text(0.5, 1 - 0.08 / height, title, ha="center", va="top", fontsize=15, color=TEXT)
    handles = [
        Patch(color=THIS_WEEK, label=labels.this_week),
        Patch(color=LAST_WEEK, label=labels.last_week),
    ]
    figure.legend(
        handles=handles, loc="lower center", ncol=2, fontsize=12, frameon=False,
        bbox_to_anchor=(0.5, 0.0),
    )  # fmt: skip
    buffer = io.BytesIO()
    # Fast compression: the PNG is a little bigger, but encoding took a third of the time.
    figure.savefig(buffer, format="png", facecolor="white", pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def _panels(figure: Figure, height: float, top: float) -> tuple[Axes, Axes]:
    """The two panels placed by hand: an automatic layout costs more than drawing the chart."""
    width = (WIDTH_INCHES - NAMES_INCHES - GAP_INCHES - RIGHT_INCHES) / 2
    bottom = FOOTER_INCHES / height
    panel_height = (height - top - FOOTER_INCHES) / height
    left = NAMES_INCHES / WIDTH_INCHES
    second = (NAMES_INCHES + width + GAP_INCHES) / WIDTH_INCHES
    first_axes = figure.add_axes((left, bottom, width / WIDTH_INCHES, panel_height))
    second_axes = figure.add_axes((second, bottom, width / WIDTH_INCHES, panel_height))
    return first_axes, second_axes


def _panel(axes: Axes, title: str, positions: list[int], values: list[tuple[int, int]]) -> None:
    now = [value for value, _ in values]
    before = [value for _, value in values]
    # This week's bar above last week's, each labelled with its number.
    axes.barh([y + 0.2 for y in positions], now, height=0.4, color=THIS_WEEK)
    axes.barh([y - 0.2 for y in positions], before, height=0.4, color=LAST_WEEK)
    for y, value, old in zip(positions, now, before, strict=True):
        axes.text(value, y + 0.2, f" {value}", va="center", fontsize=11, color=TEXT)
        axes.text(old, y - 0.2, f" {old}", va="center", fontsize=9, color=MUTED)
    axes.set_title(title, fontsize=13, color=TEXT)
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    axes.set_xlim(0, max([*now, *before, 1]) * 1.25)
    axes.tick_params(axis="x", labelsize=10, colors=TEXT)
    axes.tick_params(axis="y", length=0)
    axes.grid(axis="x", color="#e6e9ed", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _short(name: str) -> str:
    """The name cut to fit the names column; a Chinese character is as wide as two Latin ones."""
    width = 0
    for index, character in enumerate(name):
        width += 2 if unicodedata.east_asian_width(character) in "WF" else 1
        if width > MAX_NAME_WIDTH:
            return f"{name[:index]}…"
    return name
