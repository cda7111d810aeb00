"""Measure a reader on labelled lines: accuracy overall, per label, per column, and confusions."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from playbooks.corpus import CorpusLine
from understanding.reading import NotUnderstood, Reading
from understanding.text import language_of

UNREAD = "(not understood)"
SKIPPED_COLUMNS = frozenset({"secondary", "split", "kind_note"})


@dataclass(frozen=True)
class Outcome:
    """One line's truth, what the reader said, and the line's other columns."""

    truth: str
    predicted: str
    confident: bool
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def right(self) -> bool:
        return self.truth == self.predicted


def run(lines: Iterable[CorpusLine], reader: Callable[[str], Reading]) -> list[Outcome]:
    """Read every line; text the reader cannot read counts as wrong and not confident."""
    outcomes = []
    for line in lines:
        columns = dict(line.columns)
        columns.setdefault("lang", language_of(line.text))
        try:
            reading = reader(line.text)
            outcomes.append(Outcome(line.label, reading.label, reading.confident, columns))
        except NotUnderstood:
            outcomes.append(Outcome(line.label, UNREAD, False, columns))
    return outcomes


def _share(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    right = sum(outcome.right for outcome in outcomes)
    return {"n": len(outcomes), "accuracy": round(right / len(outcomes), 4) if outcomes else None}


def _by(outcomes: Sequence[Outcome], key: Callable[[Outcome], str]) -> dict[str, Any]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[key(outcome)].append(outcome)
    return {name: _share(groups[name]) for name in sorted(groups)}


def _column(name: str) -> Callable[[Outcome], str]:
    return lambda outcome: outcome.columns.get(name) or "-"


def report(outcomes: Sequence[Outcome], top_confusions: int = 10) -> dict[str, Any]:
    """Every figure the eval commands print, as JSON values."""
    confident = [outcome for outcome in outcomes if outcome.confident]
    columns = sorted({name for outcome in outcomes for name in outcome.columns} - SKIPPED_COLUMNS)
    confusions = Counter(
        (outcome.truth, outcome.predicted) for outcome in outcomes if not outcome.right
    )
    return {
        **_share(outcomes),
        "confident": {
            "share": round(len(confident) / len(outcomes), 4) if outcomes else None,
            "precision": _share(confident)["accuracy"],
        },
        "by_label": _by(outcomes, lambda outcome: outcome.truth),
        "by_column": {name: _by(outcomes, _column(name)) for name in columns},
        "confusions": [
            {"truth": truth, "predicted": predicted, "count": count}
            for (truth, predicted), count in confusions.most_common(top_confusions)
        ],
    }


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:5.1f} %"


def format_report(result: dict[str, Any], title: str = "") -> str:
    """The report as aligned plain text."""
    lines = [title] if title else []
    lines.append(f"overall      {_percent(result['accuracy'])}  (n={result['n']})")
    confident = result["confident"]
    lines.append(
        f"confident    {_percent(confident['share'])} of lines, "
        f"precision {_percent(confident['precision'])}"
    )
    sections = [("label", result["by_label"])]
    sections += [(name, groups) for name, groups in result["by_column"].items()]
    for name, groups in sections:
        lines.append(f"by {name}:")
        for value, figures in groups.items():
            lines.append(f"  {value:22} {_percent(figures['accuracy'])}  (n={figures['n']})")
    if result["confusions"]:
        lines.append("most frequent confusions (truth → predicted):")
        for item in result["confusions"]:
            lines.append(f"  {item['truth']} → {item['predicted']}  ×{item['count']}")
    return "\n".join(lines)
