"""What a model read in a text: the label, its confidence, the runners-up, the deciding words."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from understanding.linear import LinearTextModel
from understanding.text import clause_tokens, clauses, has_content, normalise

SECONDARY_MIN = 0.2
"""A second label this likely, from another clause, is reported as the secondary one."""

FILLERS = frozenset(
    [
        "hmm",
        "hm",
        "hmmm",
        "um",
        "umm",
        "uh",
        "uhh",
        "er",
        "erm",
        "ah",
        "oh",
        "ok",
        "okay",
        "k",
        "kk",
        "lol",
        "haha",
        "hahaha",
        "ha",
        "yes",
        "no",
        "yep",
        "nope",
        "test",
        "testing",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thx",
        "ty",
        "idk",
        "dunno",
        "what",
        "huh",
        "eh",
        "meh",
        "well",
        "so",
        "sure",
        "fine",
        "嗯",
        "嗯嗯",
        "哦",
        "哦哦",
        "啊",
        "额",
        "呃",
        "哈",
        "哈哈",
        "哈哈哈",
        "好",
        "好的",
        "行",
        "是",
        "对",
        "不",
        "测试",
        "你好",
        "谢谢",
        "在吗",
        "啥",
        "什么",
        "嘿",
        "喂",
        "唉",
        "哎",
    ]
)
"""Interjections that carry no customer words on their own."""


class NotUnderstood(ValueError):
    """The text is empty or says nothing a model could read (“hmm”, “…”, an emoji)."""


@dataclass(frozen=True)
class Reading:
    """A model's reading of one text."""

    label: str
    confidence: float
    candidates: list[tuple[str, float]]
    evidence: str
    confident: bool
    secondary: str | None = None
    backend: str = "local"
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self, label_name: str = "label") -> dict[str, Any]:
        """The reading as plain JSON values."""
        return {
            label_name: self.label,
            "secondary": self.secondary,
            "confidence": round(self.confidence, 3),
            "confident": self.confident,
            "candidates": [[label, round(p, 3)] for label, p in self.candidates],
            "evidence": self.evidence,
            "backend": self.backend,
        }


_FILLER_RUN = re.compile("(?:" + "|".join(sorted(map(re.escape, FILLERS), key=len)[::-1]) + ")+")
_REPEATS = re.compile(r"(.)\1{2,}")


def is_meaningless(text: str) -> bool:
    """True for empty text, punctuation or emoji only, and interjections ("ok ok", "嗯嗯嗯")."""
    if not has_content(text):
        return True
    squeezed = "".join(ch for ch in normalise(text) if ch.isalnum() or ch == " ")
    words = [_REPEATS.sub(r"\1\1", word) for word in squeezed.split()]
    return all(
        _FILLER_RUN.fullmatch(word) or _FILLER_RUN.fullmatch(_REPEATS.sub(r"\1", word))
        for word in words
    )


def _evidence(model: LinearTextModel, text: str, label: str, weights: dict[str, float]) -> str:
    """The clause whose tokens pushed hardest towards `label`."""
    parts = clauses(text)
    if len(parts) <= 1:
        return text.strip()
    totals = [sum(weights.get(token, 0.0) for token in set(clause_tokens(c))) for c in parts]
    best = max(range(len(parts)), key=totals.__getitem__)
    return parts[best].original


def _secondary(
    model: LinearTextModel, text: str, ranked: list[tuple[str, float]], evidence: str
) -> str | None:
    """The runner-up, when it is likely enough and stands on a clause of its own."""
    if len(ranked) < 2 or ranked[1][1] < SECONDARY_MIN:
        return None
    runner = ranked[1][0]
    weights = model.contributions(model.vector(text), runner)
    other = _evidence(model, text, runner, weights)
    return runner if other != evidence or len(clauses(text)) == 1 else None


def read(model: LinearTextModel, text: str) -> Reading:
    """The model's reading of `text`; raises NotUnderstood for text with nothing to read."""
    if is_meaningless(text):
        raise NotUnderstood(text)
    vector = model.vector(text)
    if len(vector.indices) == 0:
        raise NotUnderstood(text)
    probabilities = model.probabilities(vector)
    ranked = sorted(
        ((label, float(p)) for label, p in zip(model.labels, probabilities, strict=True)),
        key=lambda pair: -pair[1],
    )
    label, confidence = ranked[0]
    evidence = _evidence(model, text, label, model.contributions(vector, label))
    return Reading(
        label=label,
        confidence=confidence,
        candidates=ranked,
        evidence=evidence,
        confident=confidence >= model.threshold,
        secondary=_secondary(model, text, ranked, evidence),
    )
