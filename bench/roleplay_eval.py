"""Held-out figures for the role-play judge, and how long scoring one reply takes.

    .venv/bin/python -m bench.roleplay_eval [--cue-words]

Every figure is on the `heldout` split of playbooks/data/corpus/roleplay_pairs.tsv,
which no training, feature choice or threshold ever saw: the share of pairs whose
better reply the judge ranks strictly above the worse one (a tie counts as wrong),
overall, by kind and by language. Then the time to score one reply (p50, p99) over
every held-out reply, three rounds. `--cue-words` also prints the old cue-word
rubric's figure on the same pairs, for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import time

from dialogs.practice.roleplay_scoring import detect_moves, score_criterion, score_reply
from playbooks.loader import load_playbooks
from playbooks.schema import Playbooks
from understanding.roleplay_judge import (
    MODEL_PATH,
    PAIRS_FILE,
    Pair,
    default_model,
    format_pairs_report,
    pairs_report,
    read_pairs,
    run_pairs,
)


def heldout() -> list[Pair]:
    pairs, _problems = read_pairs(PAIRS_FILE)
    return [pair for pair in pairs if pair.columns.get("split") == "heldout"]


def cue_word_rank(playbooks: Playbooks, pair: Pair, text: str) -> float:
    """The old judge: cue words matched, 7/5/3 per assessed criterion, summed."""
    seen = frozenset(move.id for move in detect_moves(text, playbooks))
    step = playbooks.scenarios[pair.scenario].turns[pair.turn - 1]
    criteria = playbooks.rubric_criteria
    return float(sum(score_criterion(criteria[c], seen).score for c in step.assess))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cue-words", action="store_true", help="also the old cue-word rubric")
    options = parser.parse_args()
    playbooks = load_playbooks()
    start = time.perf_counter()
    model = default_model()
    print(f"load model: {(time.perf_counter() - start) * 1000:.0f} ms, ", end="")
    print(f"{MODEL_PATH.name} {MODEL_PATH.stat().st_size / 1000:.0f} kB")
    pairs = heldout()

    def rank(pair: Pair, text: str) -> float:
        scenario = playbooks.scenarios[pair.scenario]
        return score_reply(text, scenario, pair.turn, playbooks, model=model).rank

    result = pairs_report(run_pairs(pairs, rank))
    print(format_pairs_report(result, f"== role-play judge: held-out split ({len(pairs)} pairs)"))
    if options.cue_words:
        old = pairs_report(run_pairs(pairs, lambda p, t: cue_word_rank(playbooks, p, t)))
        print(format_pairs_report(old, "== the old cue-word rubric, same pairs"))
    spent = []
    for _round in range(3):
        for pair in pairs:
            scenario = playbooks.scenarios[pair.scenario]
            for text in (pair.better, pair.worse):
                began = time.perf_counter()
                score_reply(text, scenario, pair.turn, playbooks, model=model)
                spent.append((time.perf_counter() - began) * 1000)
    spent.sort()
    p99 = spent[max(0, int(len(spent) * 0.99) - 1)]
    print(
        f"score one reply: p50 {statistics.median(spent):.2f} ms, p99 {p99:.2f} ms "
        f"({len(spent)} scorings)"
    )


if __name__ == "__main__":
    main()
