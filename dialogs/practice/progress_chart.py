"""A trainee's role-play scores per criterion over their drills, as a small phone-sized PNG.

Drawn with matplotlib's object API on the Agg canvas (no pyplot), so nothing
global changes per chart and charts can be drawn from worker threads.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import fontManager

from playbooks.schema import RUBRIC_SCORES

WIDTH_INCHES = 5.4
HEIGHT_INCHES = 3.8
DPI = 160
MAX_DRILLS = 12  # the newest drills shown; older ones would crowd the axis
COLOURS = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#57606a")
TEXT = "#1f2328"
GRID = "#e6e9ed"
# Fonts with Chinese glyphs, most common first; matplotlib falls back glyph by glyph.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)


@dataclass(frozen=True)
class Series:
    """One criterion's scores, oldest drill first (None where a drill did not judge it)."""

    label: str
    scores: Sequence[int | None]


def _fonts() -> list[str]:
    installed = {font.name for font in fontManager.ttflist}
    return ["DejaVu Sans", *(name for name in CJK_FONTS if name in installed)]


def render_progress(title: str, ticks: Sequence[str], series: Sequence[Series]) -> bytes:
    """Lines of 7/5/3 scores per criterion across the drills named by `ticks`."""
    shown = list(ticks[-MAX_DRILLS:])
    positions = list(range(len(shown)))
    with warnings.catch_warnings(), matplotlib.rc_context({"font.family": _fonts()}):
        # Without a Chinese font the labels still draw (as boxes); don't flood the log.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
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
