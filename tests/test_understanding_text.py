"""Text as the models see it: folding, clauses and their roles, features, and empty input."""

from __future__ import annotations

import pytest

from understanding.reading import is_meaningless
from understanding.text import (
    FOCUS,
    NEGATED,
    Clause,
    clause_tokens,
    clauses,
    has_content,
    language_of,
    normalise,
    tokens,
)


def roles(text: str) -> list[tuple[str, str]]:
    return [(clause.original, clause.role) for clause in clauses(text)]


# ----- normalisation ------------------------------------------------------------------------


def test_full_width_folds_to_half_width() -> None:
    assert normalise("ＡＢＣ１２３") == "abc123"
    assert normalise("价格，太贵！") == "价格,太贵!"


def test_case_and_spacing_fold() -> None:
    assert normalise("  Too   EXPENSIVE\n for Us ") == "too expensive for us"
    assert normalise("We’re busy") == "we're busy"  # curly apostrophe → straight


def test_traditional_folds_to_simplified() -> None:
    assert normalise("預算不夠") == "预算不够"
    assert normalise("預算不夠") == normalise("预算不够")
    assert tokens("預算不夠") == tokens("预算不够")


def test_pinyin_tone_marks_are_stripped() -> None:
    assert normalise("tài guì") == "tai gui"
    assert normalise("Tài Guì le") == "tai gui le"
    assert tokens("tài guì") == tokens("tai gui")


# ----- clauses ------------------------------------------------------------------------------


def test_a_chinese_contrast_negates_then_focuses() -> None:
    assert roles("价格不是问题，关键是你们能不能保证48小时上门维修") == [
        ("价格不是问题", "negated"),
        ("关键是你们能不能保证48小时上门维修", "focus"),
    ]


def test_an_english_contrast_negates_then_focuses() -> None:
    found = clauses("Price isn't the issue, the issue is your uptime SLA.")
    assert [clause.role for clause in found] == ["negated", "focus"]
    assert found[0].original == "Price isn't the issue"
    assert found[1].normal == "the issue is your uptime sla"


def test_a_denial_without_a_marker_word_turns_by_itself() -> None:
    assert roles("不是不需要，是现在没钱") == [("不是不需要", "negated"), ("是现在没钱", "focus")]


def test_traditional_contrast_markers_split_too() -> None:
    found = clauses("價格不是問題，關鍵是售後服務")
    assert [clause.role for clause in found] == ["negated", "focus"]
    assert found[1].normal == "关键是售后服务"


@pytest.mark.parametrize(
    "text",
    [
        "我们跟现在的供应商合作七八年了，没必要换",
        "你们的报价比别家高了不少",
        "We already work with another supplier and we're happy.",
        "Send me some information first",
    ],
)
def test_a_plain_sentence_has_only_plain_clauses(text: str) -> None:
    found = clauses(text)
    assert found
    assert {clause.role for clause in found} == {"plain"}


def test_a_comma_alone_cuts_but_moves_no_weight() -> None:
    assert roles("我们跟现在的供应商合作七八年了，没必要换") == [
        ("我们跟现在的供应商合作七八年了", "plain"),
        ("没必要换", "plain"),
    ]


def test_empty_text_has_no_clauses() -> None:
    assert clauses("") == []
    assert clauses(" ，。 ") == []


# ----- tokens -------------------------------------------------------------------------------


def test_a_negated_clause_only_votes_with_the_tilde_prefix() -> None:
    negated = Clause("价格不是问题", "价格不是问题", "negated")
    features = clause_tokens(negated)
    assert features
    assert all(feature.startswith(NEGATED) for feature in features)
    assert "~价格" in features and "价格" not in features


def test_a_focus_clause_counts_twice_once_with_the_focus_prefix() -> None:
    focus = Clause("是现在没钱", "是现在没钱", "focus")
    features = clause_tokens(focus)
    plain = [feature for feature in features if not feature.startswith(FOCUS)]
    marked = [feature for feature in features if feature.startswith(FOCUS)]
    assert "没钱" in plain and f"{FOCUS}没钱" in marked
    assert marked == [FOCUS + feature for feature in plain]


def test_tokens_of_a_whole_contrast_carry_both_prefixes() -> None:
    features = tokens("价格不是问题，关键是你们能不能保证48小时上门维修")
    assert "~价格" in features
    assert "价格" not in features
    assert f"{FOCUS}维修" in features and "维修" in features
    assert f"{FOCUS}0" in features and "48" not in features  # digits fold to 0


def test_english_negated_words_lose_their_plain_vote() -> None:
    features = tokens("Price isn't the issue, the issue is your uptime SLA.")
    assert "~price" in features and "price" not in features
    assert f"{FOCUS}uptime" in features and f"{FOCUS}uptime sla" in features


def test_plain_tokens_have_no_prefix() -> None:
    features = tokens("太贵了")
    assert features == ["太", "贵", "了", "太贵", "贵了", "太贵了"]


def test_english_words_are_stemmed_and_give_trigrams() -> None:
    features = tokens("budgets")
    assert "budget" in features and "#bud" in features


# ----- empty and meaningless input ----------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "…", "😀"])
def test_no_content(text: str) -> None:
    assert not has_content(text)
    assert is_meaningless(text)


@pytest.mark.parametrize("text", ["hmm", "嗯嗯", "ok", "OK!", "  Hmm…  "])
def test_lone_interjections_have_letters_but_no_meaning(text: str) -> None:
    assert has_content(text)
    assert is_meaningless(text)


@pytest.mark.parametrize("text", ["太贵", "busy", "太貴", "tài guì"])
def test_real_words_are_meaningful(text: str) -> None:
    assert has_content(text)
    assert not is_meaningless(text)


def test_language_of() -> None:
    assert language_of("太贵了") == "zh"
    assert language_of("too expensive") == "en"
    assert language_of("SLA 太差") == "zh"
