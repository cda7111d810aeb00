"""The role-play judge: meaning over cue words, turn-aware, metamorphic, rebuildable, LLM option."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dialogs.practice.roleplay_scoring import ReplyScore, drill_scores, score_reply
from playbooks.loader import load_playbooks
from playbooks.schema import Playbooks
from tests.test_roleplay_llm import FakeOpenAI
from understanding.llm import ChatEndpoint
from understanding.roleplay_judge import (
    MODEL_PATH,
    PAIRS_FILE,
    LlmRoleplayJudge,
    analyse,
    build_default,
    context_for,
    default_model,
    judge,
    read_pairs,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pb() -> Playbooks:
    return load_playbooks()


def scored(pb: Playbooks, scenario: str, turn: int, text: str) -> ReplyScore:
    return score_reply(text, pb.scenarios[scenario], turn, pb)


# ----- the examples ---------------------------------------------------------------


def test_a_polite_prefix_does_not_hide_an_insulting_question(pb: Playbooks) -> None:
    result = scored(
        pb, "objection-no-budget", 1, "理解理解，您说得对…请问贵公司是不是连这点钱都拿不出来？"
    )
    assert result.criteria["attitude"].score == 3
    assert result.criteria["questioning"].score == 3  # a rhetorical question asks nothing
    assert "acknowledge" not in result.seen


def test_a_pitch_after_an_acknowledgement_is_low_on_questioning(pb: Playbooks) -> None:
    result = scored(
        pb, "objection-no-budget", 1, "明白，问得好。我们的系统有十二大功能，先给您介绍一下"
    )
    assert result.criteria["questioning"].score == 3
    assert "pitch_before_asking" in result.criteria["questioning"].penalties


def test_a_colloquial_empathetic_probing_reply_scores_high(pb: Playbooks) -> None:
    text = "嗨，这年头谁家钱都不宽裕。冒昧打听下，明年的盘子一般啥时候开始报，谁拍板？"
    result = scored(pb, "objection-no-budget", 1, text)
    assert result.criteria["questioning"].score == 7
    assert result.criteria["attitude"].score >= 5
    assert result.total >= 12 and not result.slips


def test_an_insult_with_a_push_scores_low(pb: Playbooks) -> None:
    result = scored(pb, "objection-no-budget", 1, "Which planet are you on? Sign today.")
    assert result.criteria["attitude"].score == 3
    assert result.total <= 6 + 3  # the slip on advance applies even where not assessed
    assert {"sarcasm", "pressure"} <= result.seen


# ----- stock phrases, SPIN stage, proof ---------------------------------------------------


def test_stock_phrases_alone_are_neutral(pb: Playbooks) -> None:
    for text in ("I understand, thank you", "理解您"):
        result = scored(pb, "objection-no-need", 1, text)
        assert result.criteria["attitude"].score == 5, text
        assert not result.slips


def test_a_problem_question_beats_a_situation_question_when_one_is_due(pb: Playbooks) -> None:
    situation = "That's good. Which spreadsheet tool do you use?"
    problem = "That's good. Do numbers ever have to be redone after the report goes out?"
    a = scored(pb, "objection-no-need", 2, problem)  # turn 2: a problem question is due
    b = scored(pb, "objection-no-need", 2, situation)
    assert a.rank > b.rank
    assert a.criteria["questioning"].score == 7 and b.criteria["questioning"].score == 5


def test_control_questions_are_not_demoted_where_the_method_uses_them(pb: Playbooks) -> None:
    close = "Could I bring the figures on Tuesday at 10, or would Thursday at 3 suit you better?"
    assert scored(pb, "phone-appointment", 3, close).criteria["advance"].score == 7
    confirm = "So the renewal would cost you around 240,000 more. Is that right?"
    assert scored(pb, "objection-no-urgency", 3, confirm).criteria["questioning"].score == 7


def test_proof_is_judged_by_specificity(pb: Playbooks) -> None:
    generic = "About 372k a year. Our customers are very happy with the results."
    named = "About 372k a year. Mr. Han at Jiangnan Forging runs the same set-up; you can call him."
    a = scored(pb, "solution-presentation-gm", 2, named)
    b = scored(pb, "solution-presentation-gm", 2, generic)
    assert a.criteria["substance"].score == 7 and b.criteria["substance"].score < 7
    zh = scored(
        pb,
        "solution-presentation-gm",
        2,
        "一年三十七万。江南锻造的韩厂长用了两年，您可以直接打给他。",
    )
    assert zh.criteria["substance"].score == 7


# ----- metamorphic: a polite prefix or a glued-on close never lifts a bad reply -------------

BAD = {
    "objection-no-need": [
        (1, "That's not true, everyone needs automation. Spreadsheets are outdated."),
        (2, "您这是没算过账吧，手工做报表效率太低了。"),
        (3, "Seriously? You don't even know what your mistakes cost you?"),
    ],
    "objection-no-budget": [
        (1, "Are you saying your company can't even afford this?"),
        (2, "贵公司是不是连这点钱都拿不出来？"),
        (4, "Honestly if the CFO can't see it that's his problem."),
    ],
    "phone-appointment": [(3, "六百人的公司怎么可能不需要？书面材料您也不会看的。")],
}
PREFIXES = {"en": "I understand, thank you. ", "zh": "理解您。"}
SUFFIXES = {"en": " Tuesday or Thursday?", "zh": "周二还是周四？"}


@pytest.mark.parametrize("scenario", sorted(BAD))
def test_prefix_and_suffix_never_lift_a_bad_reply_above_a_decent_one(
    pb: Playbooks, scenario: str
) -> None:
    for turn, bad in BAD[scenario]:
        language = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in bad) else "en"
        decent = pb.scenarios[scenario].turns[turn - 1].model_answer.get(language)
        floor = scored(pb, scenario, turn, decent).rank
        variants = [
            bad,
            PREFIXES[language] + bad,
            bad + SUFFIXES[language],
            PREFIXES[language] + bad + SUFFIXES[language],
        ]
        for variant in variants:
            result = scored(pb, scenario, turn, variant)
            assert result.rank < floor, (scenario, turn, variant)
            assert result.slips, variant
        plain = scored(pb, scenario, turn, bad)
        polite = scored(pb, scenario, turn, PREFIXES[language] + bad)
        assert polite.total <= plain.total, bad


# ----- the whole drill, the unsure flag -----------------------------------------------------


def test_a_criterion_counts_wherever_a_slip_brings_it_down(pb: Playbooks) -> None:
    # Turn 3 of the phone call assesses only the next step; arguing still costs attitude.
    argued = scored(pb, "phone-appointment", 3, "怎么可能不需要？还是见面吧，周二还是周四？")
    assert argued.criteria["attitude"].score == 3 and not argued.criteria["attitude"].assessed
    assert argued.maximum == 14
    decent = scored(
        pb, "phone-appointment", 3, pb.scenarios["phone-appointment"].turns[2].model_answer.zh
    )
    assert decent.rank > argued.rank


def test_drill_scores_break_a_tie_with_the_finer_scale() -> None:
    turns = [{"attitude": 7}, {"attitude": 5}]
    assert drill_scores(turns, ["attitude"]) == {"attitude": 7}  # no finer scale: up
    low = [{"attitude": 6.6}, {"attitude": 4.6}]
    high = [{"attitude": 7.3}, {"attitude": 5.2}]
    assert drill_scores(turns, ["attitude"], low) == {"attitude": 5}
    assert drill_scores(turns, ["attitude"], high) == {"attitude": 7}


def test_unusual_wording_is_flagged(pb: Playbooks) -> None:
    odd = scored(pb, "objection-no-need", 1, "Zorblat quixotic fnord wibble, hmm?")
    assert "unusual_wording" in odd.unsure
    usual = scored(
        pb, "objection-no-need", 1, pb.scenarios["objection-no-need"].turns[0].model_answer.en
    )
    assert "unusual_wording" not in usual.unsure


def test_the_turn_context_names_the_stage_due(pb: Playbooks) -> None:
    no_need = pb.scenarios["objection-no-need"]
    stages = [context_for(no_need, turn).stage for turn in range(1, 5)]
    assert stages == ["situation", "problem", "implication", "close"]
    signals = analyse("When a wrong figure slips through, what does it end up costing you?")
    assert [q.stage for q in signals.questions] == ["implication"]


# ----- the model file -----------------------------------------------------------------------


def test_the_split_is_fixed_and_the_model_never_sees_held_out_pairs() -> None:
    pairs, problems = read_pairs(PAIRS_FILE)
    assert not problems and len(pairs) == 260
    held = [p for p in pairs if p.columns["split"] == "heldout"]
    assert len(held) == 52
    for kind in ("plain_skill", "adversarial", "both_decent"):
        for lang in ("en", "zh"):
            group = [p for p in pairs if p.columns["kind"] == kind and p.columns["lang"] == lang]
            share = sum(p.columns["split"] == "heldout" for p in group) / len(group)
            assert 0.15 <= share <= 0.25, (kind, lang)
    shipped = default_model()
    assert shipped is not None and shipped.meta["pairs"] == len(pairs) - len(held)


def test_rebuilding_the_model_gives_the_same_scores(pb: Playbooks, tmp_path: Path) -> None:
    rebuilt = build_default(pb.scenarios)
    path = tmp_path / "roleplay.npz"
    rebuilt.save(path)
    assert path.read_bytes() == MODEL_PATH.read_bytes()
    shipped = default_model()
    assert shipped is not None
    for pair in read_pairs(PAIRS_FILE)[0][:40]:
        ctx = context_for(pb.scenarios[pair.scenario], pair.turn)
        for text in (pair.better, pair.worse):
            assert judge(text, ctx, shipped).rank == judge(text, ctx, rebuilt).rank
    assert MODEL_PATH.stat().st_size < 200_000
    with np.load(MODEL_PATH, allow_pickle=False) as data:  # plain arrays, no pickles
        assert {"header", "vocabulary", "idf", "token_coef", "dense_coef"} <= set(data.files)


# ----- the command line -----------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "roleplay", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_eval_reports_the_strictly_ordered_share_by_every_column(tmp_path: Path) -> None:
    rows = [
        "scenario\tturn\tkind\tbetter\tworse",
        "objection-no-need\t1\tplain\tI understand. How do you build the report today?"
        "\tThat's not true.",
        "objection-no-need\t1\ttie\tOK.\tOK.",
        "objection-no-budget\t1\tplain\t谢谢您直说。一般谁来批计划外的开支？\t贵公司是不是连这点钱都拿不出来？",
    ]
    path = tmp_path / "mine.tsv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    done = run_cli("eval", str(path), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n"] == 3 and result["ordered"] == round(2 / 3, 4)  # a tie is not ordered
    assert result["by_column"]["kind"]["tie"]["ordered"] == 0.0
    assert set(result["by_column"]["lang"]) == {"en", "zh"}
    plain = run_cli("eval", str(path))
    assert (
        plain.returncode == 0 and "strictly ordered" in plain.stdout and "by kind:" in plain.stdout
    )
    assert run_cli("eval", str(tmp_path / "missing.tsv")).returncode == 2


def test_score_prints_the_unsure_flag() -> None:
    done = run_cli("score", "objection-no-need", "1", "Zorblat quixotic fnord wibble, hmm?")
    assert done.returncode == 0, done.stderr
    assert "unsure: " in done.stdout and "unusual_wording" in done.stdout
    payload = json.loads(run_cli("score", "objection-no-need", "1", "理解您", "--json").stdout)
    assert payload["unsure"] == [] or isinstance(payload["unsure"], list)
    assert "fine" in payload and payload["backend"] == "local"


def test_eval_with_the_llm_backend_needs_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "one.tsv"
    path.write_text("scenario\tturn\tbetter\tworse\nobjection-no-need\t1\tHow?\tNo.\n")
    done = run_cli("eval", str(path), "--backend", "llm")
    assert done.returncode == 2 and "SALESCOACH_LLM_URL" in done.stderr


# ----- the optional LLM judge against a fake OpenAI-compatible server -----------------------

REPLY = "I understand. May I ask how your team builds the month-end report today?"


@pytest.fixture
def openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def llm_judge(openai: FakeOpenAI, pb: Playbooks) -> LlmRoleplayJudge:
    chat = ChatEndpoint(openai.url, "judge-model", timeout=0.5)
    return LlmRoleplayJudge(chat, pb.rubric_criteria)


def test_the_llm_judge_scores_each_criterion_with_a_quote(
    openai: FakeOpenAI, pb: Playbooks
) -> None:
    openai.answer = json.dumps(
        {
            "criteria": {
                "attitude": {"score": 5, "quote": "I understand."},
                "questioning": {"score": 7, "quote": "how your team builds the month-end report"},
            },
            "confidence": 0.9,
        }
    )
    scenario = pb.scenarios["objection-no-need"]
    result = score_reply(REPLY, scenario, 1, pb, llm=llm_judge(openai, pb))
    assert result.backend == "llm" and result.fallback is None
    assert result.criteria["attitude"].score == 5
    assert result.criteria["questioning"].quote == "how your team builds the month-end report"
    system = openai.requests[-1]["messages"][0]["content"]
    assert "Stock phrases" in system and "what does it end up" not in system
    assert "an open question about the customer's situation" in system


@pytest.mark.parametrize("mode", ["error", "malformed", "bad_quote", "missing", "slow"])
def test_any_llm_failure_falls_back_to_the_local_judge(
    openai: FakeOpenAI, pb: Playbooks, mode: str
) -> None:
    scenario = pb.scenarios["objection-no-need"]
    local = score_reply(REPLY, scenario, 1, pb)
    if mode in ("error", "malformed", "slow"):
        openai.mode = mode
    elif mode == "bad_quote":
        openai.answer = json.dumps(
            {
                "criteria": {
                    "attitude": {"score": 3, "quote": "words the trainee never typed"},
                    "questioning": {"score": 3, "quote": "How"},
                }
            }
        )
    else:
        openai.answer = json.dumps({"criteria": {"attitude": {"score": 7, "quote": "I"}}})
    result = score_reply(REPLY, scenario, 1, pb, llm=llm_judge(openai, pb))
    assert result.backend == "local" and result.fallback
    assert {c: i.score for c, i in result.criteria.items()} == {
        c: i.score for c, i in local.criteria.items()
    }
