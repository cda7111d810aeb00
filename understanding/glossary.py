"""Find the method term a question asks about ("什么是B开局", "what is an implication question").

A retrieval over the glossary's names, not a classifier: a name found whole
in the question wins (the longest one), otherwise the name sharing the most
character pairs, above a floor.
"""

from __future__ import annotations

from collections.abc import Iterable

from playbooks.schema import GlossaryEntry
from understanding.text import normalise

MIN_OVERLAP = 0.5


def _compact(text: str) -> str:
    return "".join(ch for ch in normalise(text) if ch.isalnum())


def _pairs(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


def find_entry(entries: Iterable[GlossaryEntry], question: str) -> GlossaryEntry | None:
    """The entry the question names, or None when no name is close enough."""
    asked = _compact(question)
    if not asked:
        return None
    best: tuple[float, GlossaryEntry] | None = None
    for entry in entries:
        for name in [*entry.names.zh, *entry.names.en]:
            wanted = _compact(name)
            if len(wanted) < 2:
                continue
            if wanted in asked:
                score = 1.0 + len(wanted) / 100
            else:
                shared = _pairs(wanted) & _pairs(asked)
                score = len(shared) / len(_pairs(wanted))
            if best is None or score > best[0]:
                best = (score, entry)
    if best is None or best[0] < MIN_OVERLAP:
        return None
    return best[1]
