"""The fonts charts are drawn with: DejaVu Sans for Latin text, then a shipped Chinese font.

`SalesCoachCJKSC-Regular.otf` is a subset of Noto Sans CJK SC (SIL Open Font
License 1.1, see OFL.txt; rebuilt by scripts/subset_cjk_font.py), so Chinese names
draw on a machine with no CJK font installed. It is registered with matplotlib's
font manager on the first chart, once, and only as a fallback: matplotlib takes
each glyph from the first family in the list that has it.
"""

from __future__ import annotations

import threading
from pathlib import Path

CJK_FONT_FILE = Path(__file__).with_name("SalesCoachCJKSC-Regular.otf")
CJK_FAMILY = "SalesCoach CJK SC"
LATIN_FAMILY = "DejaVu Sans"
# Installed fonts with Chinese glyphs, tried after ours for the rare characters
# (CJK extensions) the shipped subset leaves out.
INSTALLED_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)

_lock = threading.Lock()
_families: list[str] = []


def chart_families() -> list[str]:
    """Register the shipped font (the first time) and make charts use the fallback list.

    The list goes into matplotlib's rcParams, for the whole process, rather than
    into an rc_context per chart: rc_context restores the old value on exit, which
    would pull the fonts from under a chart another thread is drawing. Setting it
    on every chart keeps it right even if something else changed it meanwhile.
    """
    import matplotlib  # imported late: start-up time
    from matplotlib.font_manager import fontManager

    with _lock:
        if not _families:
            fontManager.addfont(str(CJK_FONT_FILE))
            installed = {font.name for font in fontManager.ttflist}
            others = [name for name in INSTALLED_CJK_FONTS if name in installed]
            # An explicit list, not the generic "sans-serif": only a list falls back
            # glyph by glyph.
            _families.extend([LATIN_FAMILY, CJK_FAMILY, *others])
        if matplotlib.rcParams["font.family"] != _families:
            matplotlib.rcParams["font.family"] = list(_families)
        return list(_families)
