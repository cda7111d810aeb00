"""The role-play scorer ranks better replies higher and sees each move; the loader checks it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dialogs.practice.roleplay_scoring import (
    detect_moves,
    drill_for,
    drill_scores,
    report,
    score_reply,
    snap,
    weakest,
)
from dialogs.practice.roleplay_script import choose_branch, opening, reply_to
from playbooks.loader import check_directory, clear_cache, load_playbooks
from playbooks.schema import Playbooks

ROOT = Path(__file__).resolve().parent.parent
PAIRS = Path(__file__).parent / "data" / "roleplay_pairs.yaml"
CJK = re.compile(r"[\u4e00-\u9fff]")
REQUIRED = 0.9


@pytest.fixture(scope="module")
def pb() -> Playbooks:
    return load_playbooks()


def pairs() -> list[dict[str, Any]]:
    return list(yaml.safe_load(PAIRS.read_text(encoding="utf-8"))["pairs"])


def seen(text: str, pb: Playbooks) -> dict[str, str]:
    return {move.id: move.cue for move in detect_moves(text, pb)}


# ----- the ranking figure ---------------------------------------------------------------


def test_better_replies_rank_higher_in_at_least_90_percent_of_pairs(pb: Playbooks) -> None:
    items = pairs()
    languages = [item["language"] for item in items]
    assert len(items) >= 40
    assert languages.count("zh") == languages.count("en")
    for item in items:  # the language label matches the text
        chinese = bool(CJK.search(item["better"] + item["worse"]))
        assert chinese == (item["language"] == "zh"), item["better"]
    ranked, missed = 0, []
    for item in items:
        scenario = pb.scenarios[item["scenario"]]
        better = score_reply(item["better"], scenario, item["turn"], pb).total
        worse = score_reply(item["worse"], scenario, item["turn"], pb).total
        if better > worse:
            ranked += 1
        else:
            missed.append(f"{item['scenario']} turn {item['turn']} ({better} vs {worse})")
    share = ranked / len(items)
    print(f"\nrole-play pairs ranked correctly: {ranked}/{len(items)} = {share:.1%}")
    for miss in missed:
        print(f"  missed: {miss}")
    assert share >= REQUIRED


def test_every_model_answer_earns_7_on_what_its_turn_judges(pb: Playbooks) -> None:
    for scenario in pb.scenarios.values():
        for number, turn in enumerate(scenario.turns, start=1):
            for language in ("en", "zh"):
                result = score_reply(turn.model_answer.get(language), scenario, number, pb)
                where = f"{scenario.id} turn {number} {language}"
                assert not result.slips, where
                assert {c.score for c in result.criteria.values()} == {7}, where


def test_scoring_is_deterministic_and_judges_the_turns_criteria(pb: Playbooks) -> None:
    scenario = pb.scenarios["objection-no-need"]
    text = "I understand. How does your team build the month-end report today?"
    first = score_reply(text, scenario, 1, pb)
    assert first == score_reply(text, scenario, 1, pb)
    assert set(first.criteria) == set(scenario.turns[0].assess)
    assert first.maximum == 7 * len(scenario.turns[0].assess)
    with pytest.raises(ValueError):
        score_reply(text, scenario, 9, pb)


# ----- moves ----------------------------------------------------------------------------


def test_listening_moves_in_both_languages(pb: Playbooks) -> None:
    assert "acknowledge" in seen("I understand why you'd say that.", pb)
    assert "acknowledge" in seen("理解您的想法。", pb)
    assert "restate" in seen("So what you're saying is the cost is unclear.", pb)
    assert "restate" in seen("您的意思是费用说不清楚。", pb)
    assert "apology" in seen("真对不起，让您受委屈了。", pb)


def test_a_negated_cue_does_not_count(pb: Playbooks) -> None:
    assert "over_promise" in seen("We guarantee it works.", pb)
    assert "over_promise" not in seen("I can't guarantee it, but here are the figures.", pb)
    assert "over_promise" in seen("我们保证没问题。", pb)
    assert "over_promise" not in seen("这个我不保证，但可以给您看数据。", pb)
    assert "acknowledge" not in seen("I don't understand why.", pb)


def test_questions_open_probing_confirming(pb: Playbooks) -> None:
    moves = seen("What happens when a figure is wrong?", pb)
    assert {"question", "open_question", "probing_question"} <= set(moves)
    assert "confirming_question" in seen("Have I understood that right, is that right?", pb)
    assert "question" in seen("could you tell me how it works", pb)  # no question mark
    assert "question" in seen("请问现在是怎么统计的", pb)
    # A question word inside a statement closed by a full stop asks nothing.
    assert "question" not in seen("我帮您查一下有没有断缴。", pb)


def test_a_mocking_question_earns_no_credit_for_asking(pb: Playbooks) -> None:
    moves = seen("Seriously? You don't even know what your policy covers?", pb)
    assert "sarcasm" in moves
    assert "question" not in moves
    assert "question" not in seen("您连这个都不知道啊？", pb)


def test_pitching_counts_only_when_nothing_is_asked(pb: Playbooks) -> None:
    assert "pitch_before_asking" in seen("Our product has cloud PBX and mobile email.", pb)
    asked = "Our product has cloud PBX. How do your sites call each other today?"
    assert "pitch_before_asking" not in seen(asked, pb)


def test_evidence_is_stated_not_asked_about(pb: Playbooks) -> None:
    assert "evidence" in seen("Here is the delivery record for 40 projects.", pb)
    assert "figures" in seen("It paid back in 8 months.", pb)
    assert "evidence" not in seen("Do you have a report on that?", pb)


def test_options_and_length(pb: Playbooks) -> None:
    moves = seen("Could I visit on Tuesday at 10 or Thursday at 3?", pb)
    assert {"next_step", "next_step_options"} <= set(moves)
    assert "next_step_options" not in seen("Could I visit you next week?", pb)
    assert "next_step_options" in seen("周二上午还是周四下午我过去拜访您？", pb)
    assert "brief" in seen("Thanks. What does a wrong figure cost you each month?", pb)
    assert "brief" not in seen("OK.", pb)  # too thin to count as clear
    long_reply = " ".join(["We have many features that you will like."] * 20)
    assert "rambling" in seen(long_reply, pb)
    assert "rambling" in seen("功能很多。" * 40, pb)


def test_a_penalty_means_3_whatever_else_was_good(pb: Playbooks) -> None:
    scenario = pb.scenarios["objection-no-need"]
    text = "I understand, but that's not true. How do you do the reporting today?"
    result = score_reply(text, scenario, 1, pb)
    assert result.criteria["attitude"].score == 3
    assert result.criteria["attitude"].penalties == ("argue",)
    assert result.tip == "argue"  # stop the forbidden move first


def test_the_tip_follows_the_turns_focus(pb: Playbooks) -> None:
    scenario = pb.scenarios["objection-no-need"]
    result = score_reply("How do you build the report today?", scenario, 1, pb)
    assert result.tip == "acknowledge"  # the first focus move not shown
    model = scenario.turns[0].model_answer.en
    assert score_reply(model, scenario, 1, pb).tip is None


def test_a_company_cue_with_a_gap(tmp_path: Path) -> None:
    """Cues are playbook data: a company directory can add one, and "..." spans a gap."""
    clear_cache()
    base = load_playbooks()
    move = base.moves["probing_question"].model_dump(mode="json")
    move["cues"]["en"] = [*move["cues"]["en"], "if ... would"]
    (tmp_path / "moves.yaml").write_text(
        yaml.safe_dump({"moves": [move]}, allow_unicode=True), encoding="utf-8"
    )
    company = load_playbooks(tmp_path)
    text = "If the order slipped, would anyone notice?"
    assert "probing_question" not in seen(text, base)
    assert "probing_question" in seen(text, company)
    clear_cache()


# ----- the whole drill, the script ------------------------------------------------------


def test_drill_scores_average_the_turns_and_snap_to_the_scale() -> None:
    assert snap(7) == 7 and snap(6) == 7 and snap(5.5) == 5 and snap(4) == 5 and snap(3.9) == 3
    turns = [{"attitude": 7, "questioning": 3}, {"attitude": 3}, {"advance": 5}]
    assert drill_scores(turns, ["attitude", "questioning", "advance", "clarity"]) == {
        "attitude": 5,
        "questioning": 3,
        "advance": 5,
    }
    assert weakest({"attitude": 5, "questioning": 3, "advance": 3}, ["advance", "questioning"]) == (
        "advance"
    )


def test_the_weakest_criterion_names_a_drill(pb: Playbooks) -> None:
    for criterion in pb.rubric_criteria.values():
        assert drill_for(criterion) in pb.drills
        assert drill_for(criterion, criterion.drills[0]) != criterion.drills[0]


def test_the_customer_answers_what_the_trainee_did(pb: Playbooks) -> None:
    scenario = pb.scenarios["objection-no-need"]
    assert opening(scenario, "en").startswith("Honestly, what we have works fine")
    asked = reply_to(scenario, 1, {"acknowledge", "question", "open_question"}, "en")
    argued = reply_to(scenario, 1, {"argue"}, "en")
    pitched = reply_to(scenario, 1, {"pitch_before_asking"}, "en")
    nothing = reply_to(scenario, 1, set(), "en")
    assert "spreadsheets" in asked.text
    assert argued.text == pitched.text and "don't like sales calls" in argued.text
    assert nothing.text == "We manage. It's not complicated."
    assert len({asked.branch, argued.branch, nothing.branch}) == 3
    # Arguing wins over asking: the branches are tried in order.
    assert choose_branch(scenario.turns[0], {"argue", "question"}) == argued.branch
    assert reply_to(scenario, 1, {"question"}, "zh").text.startswith("我们用表格手工做")


# ----- the loader checks the role-play content ------------------------------------------


def only_messages(directory: Path) -> list[str]:
    return [problem.message for problem in check_directory(directory)]


def scenario_yaml(**changes: Any) -> dict[str, Any]:
    """The default objection-no-need scenario as plain data, with changes."""
    data = load_playbooks().scenarios["objection-no-need"].model_dump(mode="json")
    data.update(changes)
    return data


def test_scenario_references_are_checked(tmp_path: Path) -> None:
    clear_cache()
    bad = scenario_yaml()
    bad["turns"][0]["branches"][1]["if_any"] = ["nodding"]
    bad["turns"][1]["focus"] = ["mind_reading"]
    (tmp_path / "company.yaml").write_text(
        yaml.safe_dump({"scenarios": [bad]}, allow_unicode=True), encoding="utf-8"
    )
    messages = only_messages(tmp_path)
    assert "scenarios[0].turns[0].branches[1].if_any[0]: unknown move 'nodding'" in messages
    assert "scenarios[0].turns[1].focus[0]: unknown move 'mind_reading'" in messages


def test_a_scenario_needs_a_drill_and_a_drill_needs_a_scenario(tmp_path: Path) -> None:
    clear_cache()
    orphan = scenario_yaml(id="legal-review")
    drill = load_playbooks().drills["objection-no-need"].model_dump(mode="json")
    drill["id"] = "price-drill"
    text = yaml.safe_dump({"scenarios": [orphan], "drills": [drill]}, allow_unicode=True)
    (tmp_path / "company.yaml").write_text(text, encoding="utf-8")
    messages = only_messages(tmp_path)
    assert "scenarios[0].id: unknown drill 'legal-review'" in messages
    assert "drills[0].id: drill 'price-drill' has no role-play scenario" in messages


def test_criteria_and_branches_are_validated(tmp_path: Path) -> None:
    clear_cache()
    unlisted = scenario_yaml(criteria=["attitude", "questioning", "advance"])
    conditional_last = scenario_yaml(id="objection-no-urgency")
    conditional_last["turns"][0]["branches"] = conditional_last["turns"][0]["branches"][:1]
    text = yaml.safe_dump({"scenarios": [unlisted, conditional_last]}, allow_unicode=True)
    (tmp_path / "company.yaml").write_text(text, encoding="utf-8")
    messages = " | ".join(only_messages(tmp_path))
    assert "turns assess criteria the scenario does not list: substance" in messages
    assert "the last branch of a turn must have no condition" in messages


def test_bad_move_patterns_and_unknown_reward_moves(tmp_path: Path) -> None:
    clear_cache()
    move = load_playbooks().moves["figures"].model_dump(mode="json")
    move["patterns"] = ["(unclosed"]
    criterion = load_playbooks().rubric_criteria["substance"].model_dump(mode="json")
    criterion["rewards"]["telepathy"] = 1
    text = yaml.safe_dump({"moves": [move], "rubric_criteria": [criterion]}, allow_unicode=True)
    (tmp_path / "company.yaml").write_text(text, encoding="utf-8")
    messages = " | ".join(only_messages(tmp_path))
    assert "is not a valid regular expression" in messages
    assert "rubric_criteria[0].rewards.telepathy: unknown move 'telepathy'" in messages


# ----- the command line -----------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "roleplay", "score", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_cli_scores_one_reply_as_json(pb: Playbooks) -> None:
    reply = "I understand. May I ask how your team builds the month-end report today?"
    done = run_cli("objection-no-need", "1", reply, "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload) >= {"total", "criteria", "moves"}
    assert payload["total"] == 14
    assert payload["criteria"]["attitude"]["score"] == 7
    assert payload["criteria"]["attitude"]["line"].startswith("Acknowledged")
    assert {"id": "acknowledge", "kind": "reward", "cue": "understand"} in payload["moves"]
    expected = report(score_reply(reply, pb.scenarios["objection-no-need"], 1, pb), pb, "en")
    assert payload == json.loads(json.dumps(expected))


def test_cli_in_chinese_and_in_plain_text() -> None:
    done = run_cli("objection-no-need", "1", "您这么说就不对了。", "--json")
    payload = json.loads(done.stdout)
    assert payload["criteria"]["attitude"] == {
        "score": 3,
        "points": 0.0,
        "line": "争辩、嘲讽、推卸责任或向客户施压。",
        "moves": [],
        "penalties": ["argue"],
    }
    plain = run_cli("objection-no-need", "1", "How do you do it today?")
    assert plain.returncode == 0 and plain.stdout.startswith("total ")


def test_cli_refuses_unknown_scenarios_and_turns() -> None:
    unknown = run_cli("no-such-drill", "1", "hello")
    assert unknown.returncode == 2 and "Unknown scenario" in unknown.stderr
    assert run_cli("objection-no-need", "9", "hello").returncode == 2
