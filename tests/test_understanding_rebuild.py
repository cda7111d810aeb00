"""The shipped models are what the repository builds: rebuilding gives the same predictions."""

from __future__ import annotations

import numpy as np
import pytest

from playbooks.loader import DEFAULT_DIR
from understanding.linear import LinearTextModel
from understanding.models import DEFAULT_MODEL_DIR, KINDS, build, corpus_examples


@pytest.mark.parametrize("name", sorted(KINDS))
def test_rebuilding_a_shipped_model_gives_the_same_predictions(name: str) -> None:
    kind = KINDS[name]
    shipped = LinearTextModel.load(DEFAULT_MODEL_DIR / kind.file_name)
    rebuilt = build(kind)
    assert rebuilt.labels == shipped.labels
    assert rebuilt.meta["corpus"] == shipped.meta["corpus"], "corpus changed: run 'train --default'"
    assert rebuilt.threshold == pytest.approx(shipped.threshold, abs=1e-3)
    texts = [example.text for example in corpus_examples(kind, [DEFAULT_DIR], heldout=True)]
    ours = np.array([rebuilt.probabilities(rebuilt.vector(text)) for text in texts])
    theirs = np.array([shipped.probabilities(shipped.vector(text)) for text in texts])
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).all()
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
