"""A trained linear text model as plain arrays: saved without pickle, run with numpy alone.

Training uses scikit-learn (`understanding.training`); running needs only the
vocabulary, the idf weights and the coefficients, so start-up does not import
scikit-learn and a model file holds no code. The arithmetic is scikit-learn's
(sublinear tf · idf, l2 norm, softmax of the linear scores) with one learned
temperature on top; a test checks both give the same probabilities.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from understanding.text import tokens as default_tokens

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Vector:
    """A text's sparse tf-idf vector: vocabulary indices, their weights, and their tokens."""

    indices: npt.NDArray[np.int64]
    values: Floats
    tokens: tuple[str, ...]


@dataclass
class LinearTextModel:
    """Labels, vocabulary, idf and coefficients, plus the calibration learned at training."""

    labels: tuple[str, ...]
    vocabulary: dict[str, int]
    idf: Floats
    coef: Floats
    intercept: Floats
    temperature: float = 1.0
    threshold: float = 0.5
    """A top probability at or above this counts as confident."""
    meta: dict[str, Any] = field(default_factory=dict)
    analyzer: Callable[[str], list[str]] = default_tokens

    def vector(self, text: str) -> Vector:
        """The l2-normalised sublinear tf-idf vector of `text` over known tokens."""
        counts = Counter(t for t in self.analyzer(text) if t in self.vocabulary)
        if not counts:
            return Vector(np.zeros(0, np.int64), np.zeros(0, np.float32), ())
        known = tuple(counts)
        indices = np.fromiter((self.vocabulary[t] for t in known), np.int64, len(known))
        tf = np.fromiter((1.0 + math.log(counts[t]) for t in known), np.float32, len(known))
        values = tf * self.idf[indices]
        norm = float(np.linalg.norm(values))
        return Vector(indices, values / norm if norm else values, known)

    def scores(self, vector: Vector) -> Floats:
        """The linear score of every label (before the softmax)."""
        return self.coef[:, vector.indices] @ vector.values + self.intercept

    def probabilities(self, vector: Vector) -> Floats:
        """Calibrated probabilities, one per label, summing to 1."""
        scaled = self.scores(vector) / self.temperature
        exp = np.exp(scaled - scaled.max())
        result: Floats = (exp / exp.sum()).astype(np.float32)
        return result

    def contributions(self, vector: Vector, label: str) -> dict[str, float]:
        """How much each token of the vector pushed towards `label` (against the mean label)."""
        row = self.labels.index(label)
        weights = self.coef[:, vector.indices]
        relative = weights[row] - weights.mean(axis=0)
        return {
            token: float(value * weight)
            for token, value, weight in zip(vector.tokens, vector.values, relative, strict=True)
        }

    def save(self, path: Path) -> None:
        """Write the model as one compressed .npz (no pickled objects), replacing it atomically.

        A running bot may read the file at any moment: it sees the old model or
        the new one, never half of one.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        words = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        header = {
            "labels": list(self.labels),
            "temperature": self.temperature,
            "threshold": self.threshold,
            "meta": self.meta,
        }
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as handle:
            np.savez_compressed(
                handle,
                header=np.array(json.dumps(header, ensure_ascii=False)),
                vocabulary=np.array(words),
                idf=self.idf.astype(np.float32),
                coef=self.coef.astype(np.float32),
                intercept=self.intercept.astype(np.float32),
            )
        os.replace(partial, path)

    @classmethod
    def load(cls, path: Path) -> LinearTextModel:
        """Read a model written by `save`."""
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            words = [str(word) for word in data["vocabulary"]]
            return cls(
                labels=tuple(header["labels"]),
                vocabulary={word: index for index, word in enumerate(words)},
                idf=data["idf"].astype(np.float32),
                coef=data["coef"].astype(np.float32),
                intercept=data["intercept"].astype(np.float32),
                temperature=float(header["temperature"]),
                threshold=float(header["threshold"]),
                meta=dict(header["meta"]),
            )
