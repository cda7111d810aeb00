"""The playbook loader: the shipped defaults are valid, and every kind of problem is located."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from playbooks import check
from playbooks.loader import (
    DEFAULT_DIR,
    PlaybookError,
    Problem,
    check_directory,
    clear_cache,
    load_playbooks,
)
from playbooks.schema import COLLECTIONS, SINGLETONS

CJK = re.compile(r"[\u4e00-\u9fff]")
OBJECTION_TYPES = {
    "no_need",
    "no_urgency",
    "no_budget",
    "no_trust",
    "price",
    "has_supplier",
    "bad_experience",
    "not_decision_maker",
    "send_info",
    "too_busy",
}
DRILL_IDS = {
    "phone-appointment",
    "first-visit-intro",
    "needs-probing",
    "solution-presentation-gm",
    "objection-no-need",
    "objection-no-urgency",
    "objection-no-budget",
    "objection-no-trust",
    "insurance-has-employer-cover",
    "insurance-bad-agent-experience",
    "insurance-too-busy",
}


def objection(type_id: str, *, drill: str = "objection-no-need", label_en: str = "Legal") -> str:
    """A complete objection item in YAML (placeholder zh text keeps this file ASCII)."""
    return f"""\
  - id: {type_id}
    label: {{zh: zh-label, en: {label_en}}}
    description: {{zh: zh-desc, en: "Legal must review every contract first."}}
    examples:
      zh: [zh-example]
      en: [Our lawyers have to look at it first.]
    probing:
      - {{zh: q1, en: "What will legal look at?"}}
      - {{zh: q2, en: "Who in legal owns this?"}}
      - {{zh: q3, en: "How long does a review usually take?"}}
    strategies:
      - name: {{zh: s1, en: "Send our standard terms"}}
        how: {{zh: h1, en: "Share our contract template early."}}
      - name: {{zh: s2, en: "Meet legal"}}
        how: {{zh: h2, en: "Offer a call between both legal teams."}}
      - name: {{zh: s3, en: "Plan the review"}}
        how: {{zh: h3, en: "Put the review dates into the project plan."}}
    confirm: {{zh: c, en: "If legal signs off by Friday, can we start on Monday?"}}
    drill: {drill}
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """The 1-based line of the n-th line containing `fragment`."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    return hits[occurrence - 1]


def only_problem(directory: Path) -> Problem:
    problems = check_directory(directory)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    clear_cache()


# --- the shipped defaults ---------------------------------------------------


def test_defaults_pass_the_check() -> None:
    assert check_directory() == []
    assert check_directory(None) == []


def test_defaults_cover_every_section_in_both_languages() -> None:
    pb = load_playbooks()
    for section in COLLECTIONS:
        assert getattr(pb, section), section
    for section in SINGLETONS:
        assert getattr(pb, section) is not None, section
    assert CJK.search(pb.objections["price"].probing[0].zh)
    assert not CJK.search(pb.objections["price"].probing[0].en)


def test_objection_library_has_exactly_the_ten_types() -> None:
    pb = load_playbooks()
    assert set(pb.objections) == OBJECTION_TYPES
    for item in pb.objections.values():
        assert len(item.probing) >= 3 and len(item.strategies) >= 3
        assert item.examples.zh and item.examples.en
        assert item.drill in pb.drills
    assert set(pb.drills) == DRILL_IDS


def test_question_bank_covers_every_stage_and_direction() -> None:
    pb = load_playbooks()
    for stage in ("situation", "problem", "implication", "need_payoff"):
        assert len(pb.questions_for(stage)) >= 6, stage
    used = {q.direction for q in pb.questions.values()}
    assert set(pb.directions) <= used
    assert {"manufacturing", "telecom", "insurance", "other"} <= set(pb.industries)
    insurance = pb.questions_for("situation", industry="insurance")
    telecom = pb.questions_for("situation", industry="telecom")
    assert insurance != telecom


def test_frameworks_answer_the_questions_dialogs_ask() -> None:
    pb = load_playbooks()
    vm = pb.value_matrix
    assert vm.classify(9, 9).number == 1
    assert vm.classify(2, 9).number == 2
    assert vm.classify(9, 2).number == 3
    assert vm.classify(2, 2).number == 4
    assert vm.classify(vm.thresholds.short_term, vm.thresholds.long_term).number == 1
    assert {d.dominant_class for d in vm.portfolio} == {1, 2, 3, 4}
    grid = pb.opening_grid
    assert grid.cell("ours", "lead").letter == "G"
    assert grid.cell("theirs", "trail").letter == "C"
    assert grid.cell("ours", "trail").opening_class == "abnormal"
    assert grid.cell("ours", "even").opening_class == "problem"
    assert grid.by_letter("I").source == "seed"
    assert set(pb.competitive_strategies) == {"head_on", "flanking", "divide", "delay"}
    assert pb.account_tiers.existing_tier("high", "low").id == "EII"
    assert pb.account_tiers.potential_tier("high", "high").id == "PI"
    assert list(pb.funnel_stages) == ["target_market", "potential", "target", "signed"]
    assert set(pb.decision_roles) == {"decision_maker", "influencer", "expert", "buyer", "user"}
    assert list(pb.stances) == ["supporter", "neutral", "opponent"]
    assert list(pb.relationship_types) == ["outsider", "friend", "supplier", "partner"]
    assert list(pb.call_outcomes) == ["order", "advance", "continuation", "no_sale"]
    assert "committed to nothing" in pb.call_outcomes["continuation"].description.en


def test_coaching_content() -> None:
    pb = load_playbooks()
    checklist = list(pb.pre_visit_checklist)
    assert checklist[:2] == ["research-account", "research-contact"]
    assert {"stage", "objective", "opening-position", "expected-objections", "proof"} <= set(
        checklist
    )
    assert pb.objective_coaching.vague_feedback.en
    phases = [q.phase for q in pb.debrief_questions.values()]
    assert phases[0] == "feelings"
    assert {"objective_plan_result", "why_buyer", "best_improve"} <= set(phases)
    rating = pb.self_rating
    assert [item.id for item in rating.items] == [
        "confidence",
        "substance",
        "structure",
        "clarity",
        "attitude",
    ]
    assert all(set(item.levels) == {7, 5, 3} for item in rating.items)
    assert rating.maximum == 35


def test_default_load_is_cached() -> None:
    assert load_playbooks() is load_playbooks()
    assert load_playbooks(None) is load_playbooks(DEFAULT_DIR)


# --- problems, each with its file and line ------------------------------------


def test_invalid_yaml(tmp_path: Path) -> None:
    text = "objections:\n  - id: legal\n    label: [unclosed\n    drill: x\n"
    path = write(tmp_path, "broken.yaml", text)
    problem = only_problem(tmp_path)
    assert problem.file == str(path)
    assert problem.line == 4
    assert problem.message.startswith("invalid YAML")


def test_missing_field(tmp_path: Path) -> None:
    text = "objections:\n" + objection("legal").replace(
        '    confirm: {zh: c, en: "If legal signs off by Friday, can we start on Monday?"}\n', ""
    )
    path = write(tmp_path, "extra.yaml", text)
    problem = only_problem(tmp_path)
    assert (problem.file, problem.line) == (str(path), line_of(text, "- id: legal"))
    assert problem.message == "objections[0]: missing field 'confirm'"


def test_wrong_type(tmp_path: Path) -> None:
    text = """\
pre_visit_checklist:
  - id: budget-owner
    prompt: {zh: p, en: "Who owns the budget?"}
    why: {zh: w, en: "Money decides."}
    optional: perhaps
"""
    path = write(tmp_path, "checklist.yaml", text)
    problem = only_problem(tmp_path)
    assert (problem.file, problem.line) == (str(path), line_of(text, "optional:"))
    assert problem.message.startswith("pre_visit_checklist[0].optional: ")


def test_missing_translation_is_located_deep_inside_an_item(tmp_path: Path) -> None:
    text = "objections:\n" + objection("legal").replace(
        '      - {zh: q2, en: "Who in legal owns this?"}', "      - {zh: q2}"
    )
    path = write(tmp_path, "extra.yaml", text)
    problem = only_problem(tmp_path)
    assert (problem.file, problem.line) == (str(path), line_of(text, "{zh: q2}"))
    assert problem.message == "objections[0].probing[1]: missing translation (en)"


def test_missing_translation_of_a_block_mapping(tmp_path: Path) -> None:
    text = """\
industries:
  - id: mining
    label:
      zh: zh-mining
"""
    write(tmp_path, "industries.yaml", text)
    problem = only_problem(tmp_path)
    assert problem.line == line_of(text, "zh: zh-mining")
    assert problem.message.endswith("missing translation (en)")


def test_unknown_drill_reference(tmp_path: Path) -> None:
    text = "objections:\n" + objection("legal", drill="legal-review-drill")
    path = write(tmp_path, "extra.yaml", text)
    problem = only_problem(tmp_path)
    assert (problem.file, problem.line) == (str(path), line_of(text, "drill: legal-review"))
    assert problem.message == "objections[0].drill: unknown drill 'legal-review-drill'"


def test_unknown_objection_type_in_a_drill(tmp_path: Path) -> None:
    text = """\
drills:
  - id: objection-no-need
    skill: objection
    title: {zh: t, en: "Legal review"}
    setup: {zh: s, en: "The customer wants legal to review."}
    customer_brief: {zh: c, en: "You insist on a legal review."}
    rep_goal: {zh: g, en: "Agree review dates."}
    objections:
      - price
      - legal_review
"""
    path = write(tmp_path, "drills.yaml", text)
    problem = only_problem(tmp_path)
    assert (problem.file, problem.line) == (str(path), line_of(text, "- legal_review"))
    assert problem.message == "drills[0].objections[1]: unknown objection type 'legal_review'"


def test_unknown_checklist_and_question_references(tmp_path: Path) -> None:
    text = """\
pre_visit_checklist:
  - id: budget-owner
    prompt: {zh: p, en: "Who owns the budget?"}
    why: {zh: w, en: "Money decides."}
    after: no-such-step
  - id: partner
    prompt: {zh: p, en: "Which channel partner is involved?"}
    why: {zh: w, en: "Partners sway the deal."}
    answer: choice
    choices_from: partners
questions:
  - id: s-mining
    stage: situation
    direction: weather
    industries: [mining]
    text: {zh: t, en: "How many sites do you run?"}
"""
    path = write(tmp_path, "extra.yaml", text)
    found = {(p.line, p.message) for p in check_directory(tmp_path)}
    assert found == {
        (
            line_of(text, "after:"),
            "pre_visit_checklist[0].after: unknown checklist item 'no-such-step'",
        ),
        (
            line_of(text, "choices_from:"),
            "pre_visit_checklist[1].choices_from: unknown section 'partners'",
        ),
        (
            line_of(text, "direction: weather"),
            "questions[0].direction: unknown direction 'weather'",
        ),
        (line_of(text, "[mining]"), "questions[0].industries[0]: unknown industry 'mining'"),
    }
    assert all(p.file == str(path) for p in check_directory(tmp_path))


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    text = "objections:\n" + objection("legal")
    write(tmp_path, "a.yaml", text)
    second = write(tmp_path, "b.yaml", text)
    problem = only_problem(tmp_path)
    assert (problem.file, problem.line) == (str(second), line_of(text, "- id: legal"))
    assert "duplicate id 'legal'" in problem.message
    assert "a.yaml:2" in problem.message


def test_duplicate_id_within_one_file(tmp_path: Path) -> None:
    text = "objections:\n" + objection("legal") + objection("legal")
    write(tmp_path, "a.yaml", text)
    problem = only_problem(tmp_path)
    assert problem.line == line_of(text, "- id: legal", occurrence=2)
    assert problem.message.startswith("objections[1].id: duplicate id 'legal'")


def test_threshold_out_of_range(tmp_path: Path) -> None:
    source = yaml.safe_load((DEFAULT_DIR / "frameworks.yaml").read_text(encoding="utf-8"))
    matrix = source["value_matrix"]
    matrix["thresholds"]["long_term"] = 11
    text = yaml.safe_dump({"value_matrix": matrix}, allow_unicode=True, sort_keys=False)
    path = write(tmp_path, "matrix.yaml", text)
    problem = only_problem(tmp_path)
    assert (problem.file, problem.line) == (str(path), line_of(text, "long_term: 11"))
    assert problem.message == (
        "value_matrix.thresholds.long_term: threshold out of range: 11 (allowed 1–10)"
    )


def test_unknown_section_and_field(tmp_path: Path) -> None:
    text = "objectoins: []\nindustries:\n  - id: mining\n    lable: {zh: m, en: Mining}\n"
    write(tmp_path, "typo.yaml", text)
    found = {(p.line, p.message) for p in check_directory(tmp_path)}
    assert (1, "objectoins: unknown section 'objectoins'") in found
    assert (4, "industries[0].lable: unknown field 'lable'") in found


def test_missing_directory(tmp_path: Path) -> None:
    problem = only_problem(tmp_path / "nowhere")
    assert problem.line is None and problem.message == "not a directory"


def test_problem_str() -> None:
    assert str(Problem("a.yaml", 3, "oops")) == "a.yaml:3: oops"
    assert str(Problem("dir", None, "not a directory")) == "dir: not a directory"


# --- a company directory ----------------------------------------------------


def test_extra_directory_overrides_by_id_and_adds(tmp_path: Path) -> None:
    text = "objections:\n" + objection("price", label_en="Too dear") + objection("legal")
    text += """\
pre_visit_checklist:
  - id: budget-owner
    prompt: {zh: p, en: "Who owns the budget?"}
    why: {zh: w, en: "Money decides."}
    after: stage
"""
    write(tmp_path, "company.yaml", text)
    defaults = load_playbooks()
    pb = load_playbooks(tmp_path)
    assert pb.objections["price"].label.en == "Too dear"
    assert "legal" in pb.objections
    assert list(pb.objections)[:5] == list(defaults.objections)[:5]
    assert list(pb.objections)[-1] == "legal"
    steps = list(pb.pre_visit_checklist)
    assert steps[steps.index("stage") + 1] == "budget-owner"
    assert defaults.objections["price"].label.en != "Too dear"
    assert "legal" not in defaults.objections
    assert load_playbooks(tmp_path) is pb


def test_broken_extra_directory_raises_with_the_report(tmp_path: Path) -> None:
    text = "objections:\n" + objection("legal", drill="nope")
    path = write(tmp_path, "company.yaml", text)
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(tmp_path)
    assert len(caught.value.problems) == 1
    expected = f"{path}:{line_of(text, 'drill: nope')}: objections[0].drill: unknown drill 'nope'"
    assert str(caught.value) == expected
    assert load_playbooks().objections  # the defaults still load on their own


# --- the check command -------------------------------------------------------


def test_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert check.main(["check"]) == 0
    files = len(list(DEFAULT_DIR.glob("*.yaml")))
    summary = rf"OK: {files} files, \d+ items, \d+ labelled corpus lines\n"
    assert re.fullmatch(summary, capsys.readouterr().out)
    assert check.main([]) == 0


def test_check_company_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "company.yaml", "objections:\n" + objection("legal"))
    assert check.main(["check", str(tmp_path)]) == 0
    files = len(list(DEFAULT_DIR.glob("*.yaml"))) + 1
    assert capsys.readouterr().out.startswith(f"OK: {files} files, ")


def test_check_reports_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "objections:\n" + objection("legal", drill="nope") + objection("legal")
    path = write(tmp_path, "company.yaml", text)
    assert check.main(["check", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{path}:") for line in lines)
