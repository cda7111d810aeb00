"""Charts draw Chinese with the shipped font, on a machine with no CJK font installed.

matplotlib warns "Glyph 29579 (\\N{CJK UNIFIED IDEOGRAPH-738B}) missing from font(s)
DejaVu Sans." for every character it draws as a box; `recwarn` records every
warning (it sets the "always" filter), so none may be about a missing glyph.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from matplotlib.font_manager import FontProperties, findfont

from dialogs.fonts import CJK_FAMILY, CJK_FONT_FILE, LATIN_FAMILY, chart_families
from dialogs.manager.digest_chart import ChartLabels, ChartRow, render_chart
from dialogs.practice.progress_chart import Series, day_label, render_progress

PNG = b"\x89PNG\r\n\x1a\n"
MISSING = "missing from font"
NAMES = [
    "王芳",
    "李雷",
    "欧阳娜娜",
    "Zhang Wei",
    "陈喆",
    "張偉",
]  # 喆: not in GB2312; 張: Traditional


def missing_glyphs(recwarn: pytest.WarningsRecorder) -> list[str]:
    return [str(w.message) for w in recwarn if MISSING in str(w.message)]


def test_the_shipped_font_resolves_and_latin_keeps_dejavu() -> None:
    families = chart_families()
    assert families[:2] == [LATIN_FAMILY, CJK_FAMILY]
    assert CJK_FONT_FILE.is_file()
    found = findfont(FontProperties(family=CJK_FAMILY), fallback_to_default=False)
    assert Path(found) == CJK_FONT_FILE
    latin = findfont(FontProperties(family=LATIN_FAMILY), fallback_to_default=False)
    assert Path(latin).name == "DejaVuSans.ttf"
    assert chart_families() == families  # registered once: asking again changes nothing


def test_digest_chart_with_chinese_names_misses_no_glyph(
    recwarn: pytest.WarningsRecorder,
) -> None:
    rows = [ChartRow(name, 3, 2, 1, 2) for name in NAMES]
    labels = ChartLabels(
        title="华东一组：每人的拜访与复盘",
        subtitle="第 48 周 · 11月23日 – 11月29日",
        visits="完成拜访",
        debriefs="复盘",
        this_week="本周",
        last_week="上周",
        more="只显示前 25 名成员。",
    )
    chart = render_chart(rows, labels)
    assert chart.startswith(PNG)
    assert missing_glyphs(recwarn) == []


def test_progress_chart_in_chinese_misses_no_glyph(recwarn: pytest.WarningsRecorder) -> None:
    days = [date(2026, 11, 30), date(2026, 12, 2), datetime(2026, 12, 9, 8, tzinfo=UTC)]
    series = [Series("提问", [3, 5, 7]), Series("处理异议（价格）", [5, None, 7])]
    chart = render_progress("各评分项得分变化", days, series, language="zh")
    assert chart.startswith(PNG)
    assert missing_glyphs(recwarn) == []


def test_chart_days_are_written_in_the_readers_language() -> None:
    assert day_label(date(2026, 12, 2), "zh") == "12月2日"
    assert day_label(date(2026, 12, 2), "en") == "Dec 2"
    # A local evening stays on its own day: nothing is moved to UTC.
    late = datetime.fromisoformat("2026-12-02T23:30:00+08:00")
    assert day_label(late, "en") == "Dec 2"


# ----- reused figures and the worker processes -------------------------------------------


def _rows(count: int, offset: int = 0) -> list[ChartRow]:
    return [
        ChartRow(NAMES[index % len(NAMES)], index + offset, index, (index + offset) % 3, 1)
        for index in range(count)
    ]


def _labels(team: str) -> ChartLabels:
    return ChartLabels(
        title=f"{team}: visits and debriefs per rep",
        subtitle="Week 47 · 16 Nov – 22 Nov",
        visits="Visits done",
        debriefs="Debriefs",
        this_week="This week",
        last_week="Last week",
        more="Only the first 25 members are shown.",
    )


def test_a_reused_figure_draws_the_same_picture_as_a_fresh_one() -> None:
    first = render_chart(_rows(6), _labels("East"))
    other = render_chart(_rows(6, offset=4), _labels("West"))  # same layout, other bars
    chinese = render_chart(_rows(6), _labels("华东"))
    assert first.startswith(PNG) and other.startswith(PNG) and chinese.startswith(PNG)
    assert other != first and chinese != first
    assert render_chart(_rows(6), _labels("East")) == first  # nothing left over from the others


def test_charts_drawn_in_worker_processes_match_charts_drawn_here() -> None:
    from dialogs.manager.digest_chart import ChartPool

    pool = ChartPool(workers=1)
    try:
        pool.warm()
        drawn = pool.render(_rows(4), _labels("东区"))
    finally:
        pool.close()
    assert drawn == render_chart(_rows(4), _labels("东区"))
