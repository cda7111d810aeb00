"""Held-out figures for the understanding models, plus their speed, size and load time.

    .venv/bin/python -m bench.understanding_eval [--cross-writer]

Every figure is on the `heldout` split of the default corpora, which no
training, feature choice or threshold ever saw. `--cross-writer` also trains
an objection model without one writer's files (`b_*.tsv`) and measures it on
all of them: text written by someone else, the hardest honest test.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from pathlib import Path

from playbooks.corpus import CorpusLine, read_corpus
from playbooks.loader import DEFAULT_DIR
from understanding.evaluation import format_report, report, run
from understanding.models import DEFAULT_MODEL_DIR, KINDS, ModelKind, ModelStore
from understanding.reading import NotUnderstood, read
from understanding.training import Example, train


def heldout(kind: ModelKind) -> list[CorpusLine]:
    lines, _problems = read_corpus([DEFAULT_DIR], kind.corpus)
    return [line for line in lines if line.split == "heldout"]


def timings(kind: ModelKind, store: ModelStore, texts: list[str]) -> str:
    model = store.get(kind)
    spent = []
    for text in texts * 3:
        start = time.perf_counter()
        with contextlib.suppress(NotUnderstood):
            read(model, text)
        spent.append((time.perf_counter() - start) * 1000)
    spent.sort()
    p99 = spent[int(len(spent) * 0.99) - 1]
    return f"classify p50 {statistics.median(spent):.2f} ms, p99 {p99:.2f} ms"


def cross_writer() -> None:
    kind = KINDS["objections"]
    lines, _problems = read_corpus([DEFAULT_DIR], kind.corpus)
    other = [line for line in lines if Path(line.file).name.startswith("b_")]
    own = [
        Example(line.text, line.label)
        for line in lines
        if not Path(line.file).name.startswith("b_") and line.split == "train"
    ]
    model = train(own, kind.recipe)
    result = report(run(other, lambda text: read(model, text)))
    title = f"objections, trained without writer B, on all of writer B ({len(other)} lines)"
    print(format_report(result, title))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cross-writer", action="store_true")
    options = parser.parse_args()
    start = time.perf_counter()
    store = ModelStore()
    for kind in KINDS.values():
        store.get(kind)
    print(f"load all models: {(time.perf_counter() - start) * 1000:.0f} ms")
    sizes = {path.name: path.stat().st_size for path in DEFAULT_MODEL_DIR.glob("*.npz")}
    total = sum(sizes.values()) / 1e6
    print("model files: " + ", ".join(f"{n} {s / 1e6:.1f} MB" for n, s in sizes.items()))
    print(f"model files together: {total:.1f} MB\n")
    for kind in KINDS.values():
        lines = heldout(kind)
        result = report(run(lines, lambda text, k=kind: read(store.get(k), text)))
        print(format_report(result, f"== {kind.name}: held-out split ({len(lines)} lines)"))
        print(timings(kind, store, [line.text for line in lines]) + "\n")
    if options.cross_writer:
        cross_writer()


if __name__ == "__main__":
    main()
