"""Which model files exist, how each is trained, and loading them (picking up retrains).

The default models ship in `understanding/models/`, trained on the `train`
split of the default corpora; `salescoach objections train --default`
rebuilds them byte for byte. A company's model, trained on the defaults,
its playbook directory's corpora and its reps' corrections, lives in the
model directory (SALESCOACH_MODEL_DIR) and wins over the default. A model
file that changes on disk is read again on next use, so a retrain needs no
restart.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from playbooks.corpus import INTENTS, OBJECTIONS, OBJECTIVES, CorpusSpec, read_corpus
from playbooks.loader import DEFAULT_DIR as DEFAULT_PLAYBOOKS
from understanding.linear import LinearTextModel
from understanding.training import Example, Recipe, train

DEFAULT_MODEL_DIR = Path(__file__).parent / "models"
CORRECTION_WEIGHT = 3.0
"""A rep's correction counts as three authored lines: it is the company's own words."""


@dataclass(frozen=True)
class ModelKind:
    """One model: its corpus and its training recipe."""

    name: str
    corpus: CorpusSpec
    recipe: Recipe

    @property
    def file_name(self) -> str:
        return f"{self.name}.npz"


OBJECTION_MODEL = ModelKind("objections", OBJECTIONS, Recipe("objections", c=20.0))
OBJECTIVE_MODEL = ModelKind(
    "objectives", OBJECTIVES, Recipe("objectives", c=10.0, min_precision=0.9)
)
INTENT_MODEL = ModelKind("intents", INTENTS, Recipe("intents", c=20.0, min_precision=0.9))
KINDS = {kind.name: kind for kind in (OBJECTION_MODEL, OBJECTIVE_MODEL, INTENT_MODEL)}


def corpus_examples(
    kind: ModelKind, directories: Sequence[Path], *, heldout: bool = False
) -> list[Example]:
    """The training lines of a corpus (or, with `heldout`, only its held-out lines)."""
    lines, _problems = read_corpus(directories, kind.corpus)
    wanted = "heldout" if heldout else "train"
    return [Example(line.text, line.label) for line in lines if line.split == wanted]


def build(
    kind: ModelKind,
    extra_dir: Path | None = None,
    corrections: Iterable[tuple[str, str]] = (),
) -> LinearTextModel:
    """Train a model on the default corpus, an optional company corpus and corrections."""
    directories = [DEFAULT_PLAYBOOKS] if extra_dir is None else [DEFAULT_PLAYBOOKS, extra_dir]
    examples = corpus_examples(kind, directories)
    examples += [Example(text, label, CORRECTION_WEIGHT) for text, label in corrections]
    return train(examples, kind.recipe)


class ModelStore:
    """Loads each model once and again whenever its file changes; safe across threads."""

    def __init__(self, model_dir: Path | None = None) -> None:
        self.model_dir = model_dir
        self._lock = threading.Lock()
        self._loaded: dict[str, tuple[Path, tuple[int, int], LinearTextModel]] = {}

    def path(self, kind: ModelKind) -> Path:
        """The company's model file when there is one, else the default."""
        if self.model_dir is not None:
            trained = self.model_dir / kind.file_name
            if trained.exists():
                return trained
        return DEFAULT_MODEL_DIR / kind.file_name

    def get(self, kind: ModelKind) -> LinearTextModel:
        """The current model of `kind`."""
        path = self.path(kind)
        status = path.stat()
        stamp = (status.st_mtime_ns, status.st_ino)  # a replaced file is a new inode
        with self._lock:
            cached = self._loaded.get(kind.name)
            if cached is not None and cached[0] == path and cached[1] == stamp:
                return cached[2]
            model = LinearTextModel.load(path)
            self._loaded[kind.name] = (path, stamp, model)
            return model
