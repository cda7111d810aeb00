"""The evaluation report: accuracy overall, per label, per column, when confident, confusions."""

from __future__ import annotations

import json

from playbooks.corpus import CorpusLine
from understanding.evaluation import UNREAD, Outcome, format_report, report, run
from understanding.readers import Understanding


def outcome(truth: str, predicted: str, confident: bool = True, **columns: str) -> Outcome:
    return Outcome(truth, predicted, confident, dict(columns))


# Ten lines: 7 right. price 3/4, too_busy 2/3, send_info 2/3.
OUTCOMES = [
    outcome("price", "price", channel="phone", lang="zh"),
    outcome("price", "price", channel="phone", lang="en"),
    outcome("price", "price", False, channel="visit", lang="zh"),
    outcome("price", "no_budget", channel="visit", lang="zh"),
    outcome("too_busy", "too_busy", channel="phone", lang="en"),
    outcome("too_busy", "too_busy", False, channel="phone", lang="zh"),
    outcome("too_busy", "send_info", False, lang="en"),
    outcome("send_info", "send_info", channel="visit", lang="en", split="heldout"),
    outcome("send_info", "send_info", channel="visit", lang="zh", secondary="price"),
    outcome("send_info", "too_busy", channel="phone", lang="zh", kind_note="x"),
]


def test_overall_accuracy_and_count() -> None:
    result = report(OUTCOMES)
    assert result["n"] == 10
    assert result["accuracy"] == 0.7


def test_per_label_accuracy_is_by_truth() -> None:
    by_label = report(OUTCOMES)["by_label"]
    assert list(by_label) == ["price", "send_info", "too_busy"]  # sorted
    assert by_label["price"] == {"n": 4, "accuracy": 0.75}
    assert by_label["too_busy"] == {"n": 3, "accuracy": 0.6667}
    assert by_label["send_info"] == {"n": 3, "accuracy": 0.6667}
    assert "no_budget" not in by_label  # only predicted, never true


def test_per_column_accuracy_with_missing_values_as_dash() -> None:
    by_column = report(OUTCOMES)["by_column"]
    assert set(by_column) == {"channel", "lang"}  # secondary, split, kind_note are skipped
    assert by_column["channel"] == {
        "-": {"n": 1, "accuracy": 0.0},
        "phone": {"n": 5, "accuracy": 0.8},
        "visit": {"n": 4, "accuracy": 0.75},
    }
    assert by_column["lang"]["en"] == {"n": 4, "accuracy": 0.75}
    assert by_column["lang"]["zh"] == {"n": 6, "accuracy": 0.6667}


def test_precision_when_confident() -> None:
    confident = report(OUTCOMES)["confident"]
    # Seven confident lines, five of them right.
    assert confident == {"share": 0.7, "precision": round(5 / 7, 4)}


def test_confusions_are_ordered_by_count_then_first_seen() -> None:
    outcomes = [
        outcome("price", "no_budget"),
        outcome("too_busy", "send_info"),
        outcome("too_busy", "send_info"),
        outcome("too_busy", "send_info"),
        outcome("price", "no_budget"),
        outcome("no_need", "no_urgency"),
        outcome("price", "price"),
    ]
    confusions = report(outcomes)["confusions"]
    assert confusions == [
        {"truth": "too_busy", "predicted": "send_info", "count": 3},
        {"truth": "price", "predicted": "no_budget", "count": 2},
        {"truth": "no_need", "predicted": "no_urgency", "count": 1},
    ]
    assert report(outcomes, top_confusions=1)["confusions"] == confusions[:1]


def test_all_right_and_nothing_confident() -> None:
    result = report([outcome("price", "price", False), outcome("price", "price", False)])
    assert result["accuracy"] == 1.0
    assert result["confusions"] == []
    assert result["confident"] == {"share": 0.0, "precision": None}
    assert "confusions" not in format_report(result)
    assert format_report(result).splitlines()[1].endswith("of lines, precision -")


def test_an_empty_report() -> None:
    result = report([])
    assert result["n"] == 0 and result["accuracy"] is None
    assert result["by_label"] == {} and result["by_column"] == {}
    assert format_report(result).splitlines()[0] == "overall      -  (n=0)"


def test_the_report_is_plain_json() -> None:
    result = report(OUTCOMES)
    assert json.loads(json.dumps(result)) == result


def test_format_report_prints_every_figure() -> None:
    text = format_report(report(OUTCOMES), "objections on test.tsv (10 lines)")
    lines = text.splitlines()
    assert lines[0] == "objections on test.tsv (10 lines)"
    assert lines[1] == "overall       70.0 %  (n=10)"
    assert lines[2] == "confident     70.0 % of lines, precision  71.4 %"
    assert lines.index("by label:") < lines.index("by channel:") < lines.index("by lang:")
    assert f"  {'price':22}  75.0 %  (n=4)" in lines
    assert f"  {'-':22}   0.0 %  (n=1)" in lines
    assert f"  {'zh':22}  66.7 %  (n=6)" in lines
    confusions = lines.index("most frequent confusions (truth → predicted):")
    assert lines[confusions + 1 :] == [
        "  price → no_budget  ×1",
        "  too_busy → send_info  ×1",
        "  send_info → too_busy  ×1",
    ]
    assert "by split:" not in text and "by secondary:" not in text


def test_run_reads_every_line_and_counts_unreadable_text_as_wrong() -> None:
    lines = [
        CorpusLine("remind", "提醒我明天下午三点给王主任打电话", {"channel": "chat"}),
        CorpusLine("method", "什么是SPIN提问法", {"lang": "zh-custom"}),
        CorpusLine("objection", "hmm", {}),
    ]
    outcomes = run(lines, Understanding().intent)
    assert [o.truth for o in outcomes] == ["remind", "method", "objection"]
    assert outcomes[0].predicted == "remind" and outcomes[0].right
    assert outcomes[0].columns == {"channel": "chat", "lang": "zh"}  # lang added
    assert outcomes[1].columns["lang"] == "zh-custom"  # a given lang is kept
    assert outcomes[2] == Outcome("objection", UNREAD, False, {"lang": "en"})
    assert lines[0].columns == {"channel": "chat"}  # the line itself is not changed
