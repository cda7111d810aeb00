"""Fix the held-out split of a corpus file once: `python -m understanding.splits FILE…`.

Lines without a `split` get one: within each (label, lang, style) group,
ordered by a hash of their text, one line in five is held out, so the split
is stratified and does not depend on file order. Lines that already have a
split keep it, so adding lines later never moves a held-out line into
training. The column is written into the file: the split is data, fixed
before any model is tuned.
"""

from __future__ import annotations

import csv
import hashlib
import io
import sys
from collections import defaultdict
from pathlib import Path

HELDOUT_EVERY = 5


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def assign(rows: list[dict[str, str]], label_column: str) -> None:
    """Give every row without a split one, stratified by label, lang and style."""
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        if not row.get("split"):
            key = (row.get(label_column, ""), row.get("lang", ""), row.get("style", ""))
            groups[key].append(row)
    for members in groups.values():
        members.sort(key=lambda row: _digest(row["text"]))
        for index, row in enumerate(members):
            row["split"] = "heldout" if index % HELDOUT_EVERY == HELDOUT_EVERY - 1 else "train"


def split_file(path: Path) -> tuple[int, int]:
    """Add missing splits to one TSV file; returns (train, heldout) line counts."""
    text = path.read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = list(reader.fieldnames or [])
    rows = [dict(row) for row in reader]
    label_column = header[0]
    if "split" not in header:
        header.insert(header.index("text"), "split")
    assign(rows, label_column)
    lines = ["\t".join(header)] + ["\t".join(row[name] for name in header) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    held = sum(row["split"] == "heldout" for row in rows)
    return len(rows) - held, held


def main(argv: list[str]) -> int:
    for name in argv:
        train, held = split_file(Path(name))
        print(f"{name}: {train} train, {held} held out")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
