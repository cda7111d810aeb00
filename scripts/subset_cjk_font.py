"""Rebuild dialogs/fonts/SalesCoachCJKSC-Regular.otf, the Chinese font the charts fall back to.

The font is a subset of Noto Sans CJK SC Regular (SIL Open Font License 1.1): the
CJK Unified Ideographs block (every Chinese character a name is likely to use,
Simplified and Traditional), CJK and full-width punctuation, and every non-Latin
character of the playbooks and locale files. Kana, Hangul and vertical metrics
are left out, and the family is renamed so it never shadows an installed Noto.

Run it only to refresh the shipped file, with the Debian package's collection:

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb noto
    .venv/bin/python scripts/subset_cjk_font.py \
        noto/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

(or a NotoSansCJKsc-Regular.otf). It takes about two minutes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "dialogs" / "fonts" / "SalesCoachCJKSC-Regular.otf"
FAMILY = "SalesCoach CJK SC"
POSTSCRIPT = "SalesCoachCJKSC-Regular"
RANGES = (
    (0x2000, 0x206F),  # general punctuation: “ ” … — ·
    (0x3000, 0x303F),  # CJK symbols and punctuation: 、。「」〇
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xFF00, 0xFFEF),  # full-width forms: ，：（）
)
DROPPED_TABLES = ("vhea", "vmtx", "VORG", "BASE")


def open_sc(path: Path) -> TTFont:
    """The Simplified Chinese face of a collection, or the font itself."""
    if path.suffix.lower() != ".ttc":
        return TTFont(path)
    for index, face in enumerate(TTCollection(path).fonts):
        if face["name"].getDebugName(1) == "Noto Sans CJK SC":
            return TTFont(path, fontNumber=index)
    raise SystemExit(f"{path}: no Noto Sans CJK SC face")


def wanted_characters() -> set[int]:
    codes = {code for start, end in RANGES for code in range(start, end + 1)}
    for folder in (ROOT / "playbooks" / "data", ROOT / "playbooks" / "locales"):
        for path in folder.rglob("*"):
            if path.suffix in (".yaml", ".tsv"):
                codes |= {ord(c) for c in path.read_text(encoding="utf-8") if ord(c) > 0x2E7F}
    return codes


def rename(font: TTFont) -> None:
    """A new primary name, as the OFL asks of a modified version; notices are kept."""
    source = font["name"].getDebugName(5) or ""
    names = {
        1: FAMILY,
        3: f"{POSTSCRIPT};subset of Noto Sans CJK SC {source}",
        4: FAMILY,
        6: POSTSCRIPT,
        16: FAMILY,
    }
    table = font["name"]
    for record in list(table.names):
        if record.nameID in names or record.nameID == 17:
            table.removeNames(nameID=record.nameID)
    for name_id, value in names.items():
        table.setName(value, name_id, 3, 1, 0x409)
        table.setName(value, name_id, 1, 0, 0)
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [POSTSCRIPT]
        top = cff.topDictIndex[0]
        top.FullName = FAMILY
        top.FamilyName = FAMILY


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    font = open_sc(Path(argv[0]))
    available = set(font.getBestCmap())
    codes = sorted(wanted_characters() & available)
    options = subset.Options()
    options.layout_features = []  # no vertical or localized forms: horizontal chart labels
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.hinting = False  # the charts are drawn at 160 dpi, unhinted like matplotlib's text
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codes)
    subsetter.subset(font)
    for tag in DROPPED_TABLES:
        if tag in font:
            del font[tag]
    rename(font)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    font.save(TARGET)
    print(f"{TARGET}: {len(codes)} characters, {TARGET.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
