"""Labelled text corpora (TSV) that the understanding models learn from, and their checks.

A corpus file is UTF-8 TSV with a header. It has a label column, a `text`
column and any others (`lang`, `style`, `industry`, `split`, …); every extra
column is kept, so an evaluation can report by it. `split` is `train` or
`heldout`: held-out lines are never used to train, pick features or set a
threshold, only to measure.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

CORPUS_DIR = "corpus"
SPLITS = ("train", "heldout")
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class CorpusSpec:
    """Where one corpus lives under a playbook directory and what its labels may be."""

    name: str
    pattern: str
    label_column: str
    labels: frozenset[str] | None = None
    """Allowed labels; None means "the objection ids of the playbooks"."""
    required: tuple[str, ...] = ("lang", "style", "split")


OBJECTIONS = CorpusSpec("objections", "objections/*.tsv", "type")
OBJECTIVES = CorpusSpec(
    "objectives",
    "objectives*.tsv",
    "label",
    frozenset({"customer_action", "no_customer_action"}),
)
INTENTS = CorpusSpec(
    "intents",
    "intents*.tsv",
    "intent",
    frozenset({"objection", "remind", "method", "visit", "debrief", "other"}),
)
SPECS = (OBJECTIONS, OBJECTIVES, INTENTS)


@dataclass(frozen=True)
class CorpusLine:
    """One labelled line: its label, its text and every other column of its row."""

    label: str
    text: str
    columns: dict[str, str] = field(default_factory=dict)
    file: str = ""
    line: int = 0

    @property
    def lang(self) -> str:
        return self.columns.get("lang", "")

    @property
    def split(self) -> str:
        return self.columns.get("split", "train")

    @property
    def secondary(self) -> str:
        return self.columns.get("secondary", "")


@dataclass(frozen=True)
class CorpusProblem:
    """A bad row or header, located by file and line (1-based)."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


def read_tsv(path: Path, label_column: str) -> tuple[list[CorpusLine], list[CorpusProblem]]:
    """Every row of `path` with a label and a text, and the problems of the others."""
    lines: list[CorpusLine] = []
    problems: list[CorpusProblem] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [CorpusProblem(str(path), None, f"cannot read: {exc}")]
    rows = list(csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows:
        return [], [CorpusProblem(str(path), None, "empty file")]
    header = [name.strip() for name in rows[0]]
    for needed in (label_column, "text"):
        if needed not in header:
            problems.append(CorpusProblem(str(path), 1, f"missing column '{needed}'"))
    if problems:
        return [], problems
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            message = f"{len(row)} columns, the header has {len(header)}"
            problems.append(CorpusProblem(str(path), number, message))
            continue
        columns = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
        label, line_text = columns.pop(label_column), columns.pop("text")
        lines.append(CorpusLine(label, line_text, columns, str(path), number))
    return lines, problems


def corpus_files(directory: Path, spec: CorpusSpec) -> list[Path]:
    """The files of one corpus under a playbook directory, in a stable order."""
    return sorted((directory / CORPUS_DIR).glob(spec.pattern))


def read_corpus(
    directories: Iterable[Path], spec: CorpusSpec
) -> tuple[list[CorpusLine], list[CorpusProblem]]:
    """The lines of one corpus across playbook directories (defaults first)."""
    lines: list[CorpusLine] = []
    problems: list[CorpusProblem] = []
    for directory in directories:
        for path in corpus_files(directory, spec):
            found, bad = read_tsv(path, spec.label_column)
            lines += found
            problems += bad
    return lines, problems


def _row_problems(
    line: CorpusLine, spec: CorpusSpec, labels: frozenset[str]
) -> Iterator[CorpusProblem]:
    def problem(message: str) -> CorpusProblem:
        return CorpusProblem(line.file, line.line, message)

    if line.label not in labels:
        yield problem(f"unknown {spec.label_column} '{line.label}'")
    if not line.text:
        yield problem("empty text")
    for name in spec.required:
        if not line.columns.get(name):
            yield problem(f"empty '{name}'")
    if line.lang and line.lang not in LANGUAGES:
        yield problem(f"lang must be one of {', '.join(LANGUAGES)}, not '{line.lang}'")
    if line.columns.get("split") and line.split not in SPLITS:
        yield problem(f"split must be train or heldout, not '{line.split}'")
    if line.secondary and (line.secondary not in labels or line.secondary == line.label):
        yield problem(f"secondary '{line.secondary}' is not another known {spec.label_column}")


def check_lines(
    lines: list[CorpusLine], spec: CorpusSpec, labels: frozenset[str]
) -> list[CorpusProblem]:
    """Row problems plus repeated texts (a line in both splits would leak)."""
    problems = [p for line in lines for p in _row_problems(line, spec, labels)]
    seen: dict[str, CorpusLine] = {}
    for line in lines:
        key = " ".join(line.text.split()).casefold()
        first = seen.setdefault(key, line)
        if first is not line:
            where = f"{Path(first.file).name}:{first.line}"
            problems.append(CorpusProblem(line.file, line.line, f"same text as {where}"))
    return problems


def check_corpora(directories: list[Path], objection_ids: Iterable[str]) -> list[CorpusProblem]:
    """Every problem in every corpus found under `directories`."""
    problems: list[CorpusProblem] = []
    for spec in SPECS:
        lines, bad = read_corpus(directories, spec)
        labels = spec.labels if spec.labels is not None else frozenset(objection_ids)
        problems += bad + check_lines(lines, spec, labels)
    return problems


def count_lines(directories: list[Path]) -> int:
    """How many labelled lines the corpora under `directories` hold."""
    return sum(len(read_corpus(directories, spec)[0]) for spec in SPECS)
