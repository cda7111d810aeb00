"""The digest's chart: visits and debriefs per rep, this week against last, as a phone-sized PNG.

Drawn with matplotlib's object API on the Agg canvas (no pyplot). Building a
figure's artists (axes, ticks, bars, labels) cost more than drawing them, so
each thread keeps one figure per layout (rows shown, title lines) and a chart
only changes its bars, numbers and words before drawing: the same picture,
several times faster. Nothing is shared between threads, and `ChartPool` draws
in worker processes, so a Monday burst of digests is not paced by matplotlib.
"""

from __future__ import annotations

import io
import os
import textwrap
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any

from dialogs.fonts import LATIN_FAMILY, chart_families

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.text import Text

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
PARENT_CHECK_SECONDS = 1.0  # how soon a worker notices its bot was killed
MIN_ROWS = 3  # a team of one still gets a chart tall enough to read
MAX_NAME_WIDTH = 16  # in Latin characters
TITLE_WIDTH = 40
BAR_HEIGHT = 0.4
THIS_WEEK = "#1f6feb"
LAST_WEEK = "#c4ccd6"
TEXT = "#1f2328"
MUTED = "#6e7781"
GRID = "#e6e9ed"
MAX_CACHED_LAYOUTS = 16  # per thread: rows shown × title lines actually met


# Draws a chart: render_chart here, or a ChartPool's render in worker processes.
Renderer = Callable[[Sequence["ChartRow"], "ChartLabels"], bytes]


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
    shown = list(rows[:MAX_ROWS])
    subtitle = labels.subtitle if len(rows) <= len(shown) else f"{labels.subtitle}\n{labels.more}"
    title = "\n".join([*textwrap.wrap(labels.title, TITLE_WIDTH), subtitle])
    canvas = _canvas(len(shown), title.count("\n") + 1)
    return canvas.draw(shown, title, labels)


# ----- one figure per layout, reused ----------------------------------------------------

_local = threading.local()


def _canvas(rows: int, title_lines: int) -> _Canvas:
    """This thread's figure for the layout, built the first time it is needed."""
    canvases: dict[tuple[int, int], _Canvas] = getattr(_local, "canvases", None) or {}
    _local.canvases = canvases
    key = (rows, title_lines)
    if key not in canvases:
        if len(canvases) >= MAX_CACHED_LAYOUTS:
            canvases.pop(next(iter(canvases)))
        canvases[key] = _Canvas(rows, title_lines)
    return canvases[key]


class _Panel:
    """One panel's reusable artists: two bar collections and a number beside each bar."""

    def __init__(self, axes: Axes, positions: list[int]) -> None:
        from matplotlib.collections import PolyCollection
        from matplotlib.ticker import MaxNLocator, NullLocator

        self.axes = axes
        self.positions = positions
        self.now: PolyCollection = PolyCollection([], facecolors=THIS_WEEK, edgecolors="none")
        self.before: PolyCollection = PolyCollection([], facecolors=LAST_WEEK, edgecolors="none")
        axes.add_collection(self.now, autolim=False)
        axes.add_collection(self.before, autolim=False)
        # Numbers need no Chinese: one font, without the fallback list, lays them out faster.
        self.now_numbers: list[Text] = [
            axes.text(0, y + 0.2, "", va="center", family=LATIN_FAMILY, fontsize=11, color=TEXT)
            for y in positions
        ]
        self.before_numbers: list[Text] = [
            axes.text(0, y - 0.2, "", va="center", family=LATIN_FAMILY, fontsize=9, color=MUTED)
            for y in positions
        ]
        self.title = axes.set_title("", fontsize=13, color=TEXT)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        axes.tick_params(axis="x", labelsize=10, colors=TEXT, labelfontfamily=LATIN_FAMILY)
        axes.yaxis.set_major_locator(NullLocator())  # rows are named beside the first panel
        axes.grid(axis="x", color=GRID, linewidth=0.8)
        axes.set_axisbelow(True)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        padding = max(MIN_ROWS - len(positions), 0) / 2  # a short team sits in the middle
        axes.set_ylim(-0.7 - padding, len(positions) - 0.3 + padding)

    def update(self, title: str, values: list[tuple[int, int]]) -> None:
        now = [value for value, _ in values]
        before = [value for _, value in values]
        # This week's bar above last week's, each labelled with its number.
        self.now.set_verts(_boxes(self.positions, now, 0.2))
        self.before.set_verts(_boxes(self.positions, before, -0.2))
        for y, value, old, now_text, old_text in zip(
            self.positions, now, before, self.now_numbers, self.before_numbers, strict=True
        ):
            now_text.set_position((value, y + 0.2))
            now_text.set_text(f" {value}")
            old_text.set_position((old, y - 0.2))
            old_text.set_text(f" {old}")
        self.title.set_text(title)
        self.axes.set_xlim(0, max([*now, *before, 1]) * 1.25)


def _boxes(
    positions: list[int], values: list[int], offset: float
) -> list[list[tuple[float, float]]]:
    half = BAR_HEIGHT / 2
    return [
        [
            (0, y + offset - half),
            (0, y + offset + half),
            (x, y + offset + half),
            (x, y + offset - half),
        ]
        for y, x in zip(positions, values, strict=True)
    ]


class _Canvas:
    """A figure for a number of rows and title lines, with the artists every chart changes."""

    def __init__(self, rows: int, title_lines: int) -> None:
        # matplotlib is imported here, not at module level: it costs ~0.5 s of start-up
        # that a bot which has not drawn a chart yet does not need to pay.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch

        chart_families()  # Latin in DejaVu Sans, Chinese names in the shipped CJK font
        top = TITLE_LINE_INCHES * title_lines + PANEL_TITLE_INCHES
        self.height = top + ROW_INCHES * max(rows, MIN_ROWS) + FOOTER_INCHES
        self.figure: Figure = Figure(figsize=(WIDTH_INCHES, self.height), dpi=DPI)
        self.figure.patch.set_facecolor("white")
        self.canvas: Any = FigureCanvasAgg(self.figure)  # its draw and buffer are untyped
        first, second = _panels(self.figure, self.height, top)
        positions = [rows - 1 - index for index in range(rows)]  # first rep on top
        self.visits, self.debriefs = _Panel(first, positions), _Panel(second, positions)
        from matplotlib.transforms import blended_transform_factory

        # The names as plain texts left of the first panel, not as tick labels: an axis
        # lays out and measures every tick label on each draw, which cost more than the bars.
        beside = blended_transform_factory(first.transAxes, first.transData)
        self.names: list[Text] = [
            first.text(-0.04, y, "", transform=beside, ha="right", va="center", fontsize=12)
            for y in positions
        ]
        self.title: Text = self.figure.text(
            0.5, 1 - 0.08 / self.height, "", ha="center", va="top", fontsize=15, color=TEXT
        )
        self.this_week = Patch(color=THIS_WEEK, label="")
        self.last_week = Patch(color=LAST_WEEK, label="")
        self.legend_key: tuple[str, str] | None = None
        self.legend: Any = None
        self._patch_type = Patch

    def draw(self, rows: list[ChartRow], title: str, labels: ChartLabels) -> bytes:
        chart_families()  # keeps the font list right if something else changed it
        self.visits.update(labels.visits, [(r.visits, r.visits_before) for r in rows])
        self.debriefs.update(labels.debriefs, [(r.debriefs, r.debriefs_before) for r in rows])
        for text, row in zip(self.names, rows, strict=True):
            text.set_text(_short(row.name))
        self.title.set_text(title)
        self._legend(labels)
        return self._png()

    def _png(self) -> bytes:
        """Draw on the Agg canvas and encode it ourselves: savefig adds work we do not need.

        RGB, not RGBA (the background is white anyway), with fast compression: the
        file is a little bigger, but encoding took a third of the time.
        """
        from PIL import Image

        canvas = self.canvas
        canvas.draw()
        width, height = canvas.get_width_height()
        rgba = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        rgba.convert("RGB").save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    def _legend(self, labels: ChartLabels) -> None:
        """The legend, rebuilt only when its words change (a language switch)."""
        key = (labels.this_week, labels.last_week)
        if key == self.legend_key:
            return
        if self.legend is not None:
            self.legend.remove()
        handles = [
            self._patch_type(color=THIS_WEEK, label=labels.this_week),
            self._patch_type(color=LAST_WEEK, label=labels.last_week),
        ]
        self.legend = self.figure.legend(
            handles=handles, loc="lower center", ncol=2, fontsize=12, frameon=False,
            bbox_to_anchor=(0.5, 0.0),
        )  # fmt: skip
        self.legend_key = key


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


def _short(name: str) -> str:
    """The name cut to fit the names column; a Chinese character is as wide as two Latin ones."""
    width = 0
    for index, character in enumerate(name):
        width += 2 if unicodedata.east_asian_width(character) in "WF" else 1
        if width > MAX_NAME_WIDTH:
            return f"{name[:index]}…"
    return name


# ----- drawing in worker processes -------------------------------------------------------


def _exit_with_parent(parent: int) -> None:
    # kill -9 of the bot skips the pool's shutdown, and a spawned worker would then
    # wait for work forever, holding its memory; it leaves once it is orphaned.
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _warm_worker(parent: int) -> None:
    """Runs once in each worker: matplotlib on Agg, the CJK font registered, a first figure."""
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    import matplotlib

    matplotlib.use("Agg")
    chart_families()
    _canvas(MIN_ROWS, 2)


class ChartPool:
    """Charts drawn in worker processes, created once and kept: the caller's loop stays free.

    On a machine with N cores, N - 1 workers (at least one) draw while the
    main process reads the database and talks to Telegram.
    """

    def __init__(self, workers: int | None = None) -> None:
        count = workers if workers is not None else max((os.cpu_count() or 2) - 1, 1)
        self.workers = count
        # Spawned, not forked: the bot's process runs threads, and a fork copies their locks.
        self._executor = ProcessPoolExecutor(
            max_workers=count,
            mp_context=get_context("spawn"),
            initializer=_warm_worker,
            initargs=(os.getpid(),),
        )

    def submit(self, rows: Sequence[ChartRow], labels: ChartLabels) -> Future[bytes]:
        """Draw a chart in a worker; the future holds the PNG."""
        return self._executor.submit(render_chart, list(rows), labels)

    def call(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run any picklable function in a worker (a benchmark times charts there)."""
        return self._executor.submit(function, *args)

    def render(self, rows: Sequence[ChartRow], labels: ChartLabels) -> bytes:
        """Draw a chart in a worker and wait for it."""
        return self.submit(rows, labels).result()

    def warm(self) -> None:
        """Start every worker now, so the first digests do not wait for matplotlib to load."""
        futures = [self._executor.submit(_canvas, MIN_ROWS, 2) for _ in range(self.workers)]
        for future in futures:
            future.result()

    def close(self, *, wait: bool = True) -> None:
        """Stop the workers."""
        self._executor.shutdown(wait=wait, cancel_futures=True)
