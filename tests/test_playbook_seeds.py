"""Playbook content checked against the source material (shared/seeds), point by point.

Each test asserts on the loaded playbook and, where the content reaches users, on the
text a rep or manager reads, in Chinese and English.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from dialogs.catalog import ACTIONS, COMMANDS, DIALOGS
from dialogs.core.engine import Engine
from dialogs.core.steps import Services
from playbooks.loader import load_playbooks
from playbooks.schema import Playbooks
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Account, User
from tests.conftest import FIXED_NOW
from tests.helpers import Chat
from tests.test_digest import IN_WEEK, Seed, text_of

RETREAT_STRATEGIES = {"divide", "delay"}
# What the rep is asked, answered in each language, up to the opening position.
TO_TERRITORY = {
    "en": ("tomorrow 3pm", "Yes", "Director Wang", "Decision maker", "Wang agrees to a trial"),
    "zh": ("明天下午三点", "对", "王主任", "决策者", "王主任同意安排一个月的试用"),
}
GRID_ANSWERS = {
    "en": {"ours": "Our territory", "theirs": "Their territory", "neutral": "Neutral ground",
           "lead": "We lead", "even": "Even", "trail": "We trail"},
    "zh": {"ours": "我方地盘", "theirs": "对手地盘", "neutral": "中立地带",
           "lead": "我方领先", "even": "势均力敌", "trail": "我方落后"},
}  # fmt: skip


@pytest.fixture(scope="module")
def playbook() -> Playbooks:
    return load_playbooks()


@pytest.fixture
def both(any_database: str) -> Iterator[Database]:
    """A migrated database, once SQLite and once PostgreSQL (when the tests have one)."""
    database = make_engine(any_database)
    upgrade(database)
    yield database
    database.dispose()


def engine_on(database: Database) -> Engine:
    return Engine(
        database,
        dialogs=DIALOGS,
        commands=COMMANDS,
        actions=ACTIONS,
        services=Services(invite_link=lambda code: f"https://t.me/test_bot?start=join_{code}"),
        clock=lambda: FIXED_NOW,
    )


def rep(engine: Engine, language: str) -> Chat:
    chat = Chat(engine, language=language)
    chat.onboard(role="销售代表", zone="上海") if language == "zh" else chat.onboard()
    return chat


def add_account(database: Database, name: str = "Huaxin Steel", **fields: object) -> int:
    with Session(database) as session:
        owner = session.exec(select(User)).one()
        account = Account(owner_id=owner.id or 0, name=name, industry="manufacturing", **fields)
        session.add(account)
        session.commit()
        return account.id or 0


def strategy_step(chat: Chat, language: str, territory: str, lead: str) -> str:
    """/visit up to the strategy question for a grid cell; the question's text."""
    when, yes, contact, role, objective = TO_TERRITORY[language]
    chat.say("/visit Huaxin Steel")
    chat.say(when)
    chat.say(yes)
    chat.say(contact)
    chat.press(role)
    chat.say(objective)
    chat.press(GRID_ANSWERS[language][territory])
    chat.press(GRID_ANSWERS[language][lead])
    return chat.text


# ----- 1. opening cell I --------------------------------------------------------------


def test_cell_i_follows_the_source_and_suggests_no_head_on_attack(playbook: Playbooks) -> None:
    cell = playbook.opening_grid.by_letter("I")
    assert cell.source == "seed" and cell.strategy != "head_on"
    for language in ("zh", "en"):
        text = cell.move.get(language) + cell.situation.get(language)
        assert "推断" not in text and "inference" not in text and "breaks off" not in text
    # Seed 000: keep finding and exposing the competitor's weaknesses, widen the
    # relationships, speed the purchase up.
    assert all(word in cell.move.zh for word in ("弱点", "人脉", "加快采购"))
    assert all(word in cell.move.en for word in ("weak points", "contacts", "speed the purchase"))


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_rep_in_cell_i_reads_the_seed_move_and_no_head_on(
    engine: Engine, database: Database, language: str
) -> None:
    chat = rep(engine, language)
    add_account(database)
    text = strategy_step(chat, language, "theirs", "lead")
    assert "<b>I</b>" in text
    expected = (
        ("弱点", "扩大人脉", "加快采购进程")
        if language == "zh"
        else ("keep finding its weak points", "widening our contacts", "speed the purchase up")
    )
    assert all(part in text for part in expected)
    assert "推断" not in text and "inference" not in text
    assert not any("⭐" in label for label in chat.labels())  # head-on is not suggested


# ----- 2. retreat strategies are never a first move -----------------------------------


def test_divide_and_delay_are_retreat_strategies_and_no_default_in_h_d_a(
    playbook: Playbooks,
) -> None:
    retreats = {s.id for s in playbook.competitive_strategies.values() if s.retreat}
    assert retreats == RETREAT_STRATEGIES
    grid = playbook.opening_grid
    assert grid.by_letter("H").strategy not in RETREAT_STRATEGIES
    assert grid.by_letter("D").strategy not in RETREAT_STRATEGIES
    assert grid.by_letter("A").strategy not in RETREAT_STRATEGIES
    # Seed 000 for H: keep digging into needs, widen internal contacts, extend the lead.
    h_move = grid.by_letter("H").move
    assert all(word in h_move.en for word in ("digging into", "widen our contacts", "lead"))
    assert all(word in h_move.zh for word in ("深挖", "人脉", "领先"))
    # F: attack the incumbent's shortcomings.
    assert "shortcomings" in grid.by_letter("F").move.en
    assert "不足" in grid.by_letter("F").move.zh
    for strategy_id in RETREAT_STRATEGIES:
        strategy = playbook.competitive_strategies[strategy_id]
        assert "retreat" in strategy.description.en and "撤退" in strategy.description.zh
        assert "first move" in strategy.when.en and "一开始" in strategy.when.zh


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_suggested_retreat_strategy_says_it_is_one(
    engine: Engine, database: Database, language: str
) -> None:
    chat = rep(engine, language)
    add_account(database)
    text = strategy_step(chat, language, "theirs", "trail")  # C: slow down and wait
    assert "<b>C</b>" in text
    suggested = next(label for label in chat.labels() if "⭐" in label)
    assert "↩️" in suggested  # the suggested option is marked as a retreat
    assert ("这是撤退策略" if language == "zh" else "A retreat strategy") in text
    chat.press("⭐")
    for _ in range(5):
        chat.say("/skip")
    brief_mark = "（↩️ 撤退策略" if language == "zh" else "(↩️ a retreat strategy"
    assert brief_mark in chat.text


@pytest.mark.parametrize(("language", "letter"), [("en", "H"), ("zh", "A"), ("en", "D")])
def test_h_a_and_d_offer_retreats_only_as_marked_alternatives(
    engine: Engine, database: Database, language: str, letter: str
) -> None:
    chat = rep(engine, language)
    add_account(database)
    cell = load_playbooks().opening_grid.by_letter(letter)
    text = strategy_step(chat, language, cell.territory, cell.lead)
    assert f"<b>{letter}</b>" in text
    assert not any("⭐" in label for label in chat.labels())
    retreat_labels = [label for label in chat.labels() if "↩️" in label]
    assert len(retreat_labels) == len(RETREAT_STRATEGIES)
    assert ("撤退策略，不能作为第一步" if language == "zh" else "retreat strategies") in text


# ----- 3. tiers: our own PIII/PIV advice is marked; EIV's reason to keep ----------------


def start_account(chat: Chat, language: str, kind: str, contribution: str, second: str) -> str:
    """/account for a new account up to the value questions; the text showing the tier."""
    labels = {
        "en": {"existing": "Existing customer", "potential": "Potential customer",
               "high": "High", "low": "Low"},
        "zh": {"existing": "现有客户", "potential": "潜在客户", "high": "高", "low": "低"},
    }[language]  # fmt: skip
    chat.say("/account")
    chat.say("华信钢铁" if language == "zh" else "Huaxin Steel")
    chat.say("1")  # industry
    chat.say("1")  # funnel stage
    chat.press(labels[kind])
    chat.press(labels[contribution])
    chat.press(labels[second])
    return chat.text


def test_piii_and_piv_are_marked_as_ours_and_eiv_keeps_its_reason(playbook: Playbooks) -> None:
    tiers = playbook.account_tiers
    assert {tier.id: tier.source for tier in tiers.potential} == {
        "PI": "seed", "PII": "seed", "PIII": "ours", "PIV": "ours"}  # fmt: skip
    assert all(tier.source == "seed" for tier in tiers.existing)
    eiv = tiers.existing_tier("low", "low").strategy
    assert "presence" in eiv.en and "competitors it keeps out" in eiv.en
    assert "宣传" in eiv.zh and "挡住竞争对手" in eiv.zh
    for entry in ("tier-piii", "tier-piv"):
        answer = playbook.glossary[entry].answer
        assert "SalesCoach" in answer.en and "SalesCoach" in answer.zh


@pytest.mark.parametrize(
    ("language", "ours_mark", "seed_text"),
    [
        ("en", "strategy written by SalesCoach", "competitors it keeps out"),
        ("zh", "的策略由 SalesCoach 编写", "挡住竞争对手"),
    ],
)
def test_the_rep_sees_which_tier_advice_is_ours(
    engine: Engine, language: str, ours_mark: str, seed_text: str
) -> None:
    chat = rep(engine, language)
    text = start_account(chat, language, "potential", "low", "high")
    assert "<b>PIII</b>" in text and ours_mark in text
    for _ in range(2):
        chat.say("5")
    chat.say("No" if language == "en" else "否")
    chat.say("/skip")  # no deal on the account yet
    assert "SalesCoach" in chat.text  # the card marks it too
    text = start_account(chat, language, "existing", "low", "low")
    assert "<b>EIV</b>" in text and seed_text in text and "SalesCoach" not in text


# ----- 4. the decision chain: titles from the source diagram, breakthrough tactics ------

# Seed 004's diagram: decision maker / influencer / expert / buyer / user over
# 一把手 / 副职(分管领导) / 评标组长 / 成员 / 主任.
SEED_TITLES = {
    "decision_maker": "一把手",
    "influencer": "副职（分管领导）",
    "expert": "评标组长",
    "buyer": "成员",
    "user": "主任",
}


def test_decision_roles_carry_the_source_titles_first(playbook: Playbooks) -> None:
    for role_id, title in SEED_TITLES.items():
        assert title in playbook.decision_roles[role_id].typical_titles.zh[0], role_id
    assert "分管副总" not in playbook.decision_roles["decision_maker"].typical_titles.zh
    assert not any(
        "评审" in title or "评标组长" in title
        for title in playbook.decision_roles["influencer"].typical_titles.zh
    )
    assert playbook.decision_roles["decision_maker"].typical_titles.en[0] == (
        "Head of the organisation"
    )
    tactics = playbook.contact_tactics
    assert {"contact-goal", "timing", "company-events", "partners", "holidays"} <= set(tactics)
    assert "contact-breakthrough" in playbook.glossary


@pytest.mark.parametrize(
    ("language", "role", "title", "tactic"),
    [
        ("en", "Influencer", "Deputy head in charge of the area", "Choose the moment"),
        ("zh", "影响者", "副职（分管领导）", "弄清联络人的目的"),
    ],
)
def test_titles_and_tactics_show_where_the_rep_plans_contacts(
    engine: Engine, database: Database, language: str, role: str, title: str, tactic: str
) -> None:
    chat = rep(engine, language)
    add_account(database)
    when, yes, _contact, _role, objective = TO_TERRITORY[language]
    chat.say("/visit Huaxin Steel")
    chat.say(when)
    chat.say(yes)
    chat.say("Ms Zhou")  # not in the chain: her role is asked, with the titles
    assert title in chat.text
    chat.press(role)
    chat.say(objective)
    chat.press(GRID_ANSWERS[language]["neutral"])
    chat.press(GRID_ANSWERS[language]["even"])
    chat.press("⭐")
    for _ in range(5):
        chat.say("/skip")
    brief = chat.text
    assert "🔑" in brief and tactic in brief  # no decision maker known: ways past the contact
    # The account card lists the tactics in full once the chain has people but no decider.
    chat.say("/account Huaxin Steel")
    for _ in range(2):
        chat.say("1")
    existing = "Existing customer" if language == "en" else "现有客户"
    chat.press(existing)
    chat.press("High" if language == "en" else "高")
    chat.press("High" if language == "en" else "高")
    chat.say("5")
    chat.say("5")
    chat.say("Yes" if language == "en" else "是")
    chat.say("Mr Qian")
    assert title in chat.text  # the account's role question shows the titles too
    chat.press(role)
    chat.say("1")  # stance
    chat.say("1")  # relationship
    chat.say("No" if language == "en" else "否")
    chat.say("/skip")  # no deal on the account yet
    assert "🔑" in chat.text and tactic in chat.text


# ----- 5. background probing: three techniques; closed questions keep their uses -------


def test_probing_techniques_and_closed_questions_for_diagnosis_and_close(
    playbook: Playbooks,
) -> None:
    assert list(playbook.probing_techniques) == [
        "open-questions", "avoid-difficulties", "show-strengths"]  # fmt: skip
    closed = playbook.question_forms["closed"].description
    assert "diagnose" in closed.en and "choice of two" in closed.en
    assert "诊断" in closed.zh and "二选一" in closed.zh
    forms = {(q.stage, q.form) for q in playbook.questions.values() if q.form == "closed"}
    assert forms == {("problem", "closed"), ("need_payoff", "closed")}
    assert "choice of two" in playbook.glossary["closed-question"].answer.en


@pytest.mark.parametrize(
    ("language", "technique", "closed_mark", "close_use"),
    [
        ("en", "Stay clear of difficulties", "(Closed question)", "closes with a choice of two"),
        ("zh", "避开难题", "（封闭式问题）", "促成决定（二选一）"),
    ],
)
def test_the_probe_teaches_the_techniques_and_offers_closed_questions(
    engine: Engine, language: str, technique: str, closed_mark: str, close_use: str
) -> None:
    chat = rep(engine, language)
    chat.say("/probe 华信钢铁" if language == "zh" else "/probe Huaxin Steel")
    chat.say("1")  # industry
    chat.say("1")  # plan my questions
    assert technique in chat.text
    assert ("显示你的优势" if language == "zh" else "Show your strengths") in chat.text
    chat.say("/skip")  # every direction
    marks = []
    for _ in range(4):  # situation, problem, implication, need-payoff
        marks.append(closed_mark in chat.text)
        chat.say("1")
    assert marks == [False, True, False, True]
    chat.say("/skip")  # no own questions
    assert close_use in chat.text  # the plan says what closed questions are for


# ----- 6. relationship levels (seed 001) --------------------------------------------------


def test_relationship_marketing_has_three_levels_and_the_organisation_first(
    playbook: Playbooks,
) -> None:
    marketing = playbook.relationship_marketing
    assert [level.level for level in marketing.levels] == [1, 2, 3]
    labels = " ".join(level.label.en for level in marketing.levels)
    assert all(word in labels for word in ("price", "personalised service", "mutual dependence"))
    assert "organisation's interest first" in marketing.organisation_first.en
    assert "先满足客户单位的利益" in marketing.organisation_first.zh
    assert "organisation's interest first" in playbook.glossary["relationship-marketing"].answer.en


@pytest.mark.parametrize(
    ("language", "levels", "first"),
    [
        ("en", ("Level 1: price", "Level 3: mutual dependence"), "interest first"),
        ("zh", ("一级：靠价格", "三级：相互依赖"), "先满足客户单位的利益"),
    ],
)
def test_the_relationship_question_shows_the_levels(
    engine: Engine, language: str, levels: tuple[str, str], first: str
) -> None:
    chat = rep(engine, language)
    start_account(chat, language, "existing", "high", "high")
    chat.say("5")
    chat.say("5")
    chat.say("Yes" if language == "en" else "是")
    chat.say("Mr Qian")
    chat.say("1")  # role
    chat.say("1")  # stance
    assert all(level in chat.text for level in levels) and first in chat.text


# ----- 7. managers: do-and-check, plan-do-check, riding along (seed 002) -----------------


def test_coaching_modes_follow_deal_size_and_riding_along_is_observing(
    playbook: Playbooks,
) -> None:
    coaching = playbook.manager_coaching
    assert coaching.small_deal.label.en == "Do and check"
    assert coaching.large_deal.label.en == "Plan, do, check"
    assert coaching.mode(coaching.large_deal_from) == coaching.large_deal
    assert coaching.mode(coaching.large_deal_from - 1) == coaching.small_deal
    assert coaching.mode(None) is None
    assert "do not join" in coaching.ride_along.en and "不要参与" in coaching.ride_along.zh
    assert {"do-check-vs-plan-do-check", "ride-along"} <= set(playbook.glossary)
    assert playbook.glossary["ride-along"].command == "team"


@pytest.mark.parametrize(
    ("language", "short_term", "mode", "ride_along"),
    [
        ("en", 8, "<b>Plan, do, check</b> (short-term gain 8/10)", "do not join the conversation"),
        ("en", 3, "<b>Do and check</b> (short-term gain 3/10)", "do not join the conversation"),
        ("zh", 9, "<b>计划-执行-检查</b>（短期收益 9/10）", "不要参与到拜访中去"),
        ("zh", None, "小单：<b>做-检查</b>", "不要参与到拜访中去"),
    ],
)
def test_the_manager_is_told_how_to_coach_this_deal(
    both: Database, language: str, short_term: int | None, mode: str, ride_along: str
) -> None:
    database = both
    boss = Chat(engine_on(database), "3001", "Wang Fang", language=language)
    if language == "zh":
        boss.onboard(role="销售经理", zone="上海")
    else:
        boss.onboard(role="Sales manager")
    seed = Seed(database)
    lee = seed.user("Li Lei", language=language)
    with Session(database) as session:
        manager = session.exec(select(User).where(User.platform_user_id == "3001")).one()
        session.expunge(manager)
    seed.team(manager, "East", [lee])
    account = seed.account(lee, "Acme Steel")
    with Session(database) as session:
        stored = session.get(Account, account.id)
        assert stored is not None
        stored.short_term = short_term
        session.add(stored)
        session.commit()
    seed.debrief(lee, account, FIXED_NOW, "advance", happened="They agreed to a trial.")
    boss.say("/team")
    assert ride_along in boss.text  # the roster reminds how to ride along
    boss.press("Li Lei")
    boss.press("1. Acme")
    boss.press("💬")
    assert mode in boss.text


# ----- 8. what the opening statistics mean (seed 000) -----------------------------------


def test_many_a_and_no_g_means_old_customers_are_not_maintained(playbook: Playbooks) -> None:
    signal = playbook.opening_signals["old-customers-neglected"]
    assert signal.source == "seed" and signal.many == ["A"] and signal.absent == ["G"]
    assert signal.matches({"A": 2, "B": 1, "C": 1})
    assert not signal.matches({"A": 2, "B": 1, "G": 1})  # a G opening: our ground holds
    assert not signal.matches({"A": 1, "B": 2, "C": 3, "E": 2})  # too few A to be "many"
    assert not signal.matches({"A": 2})  # too few openings to judge
    assert "existing customers are not being looked after" in signal.meaning.en
    assert "老客户没有维护好" in signal.meaning.zh
    shaky = playbook.opening_signals["own-ground-shaky"]
    assert shaky.source == "ours" and shaky.matches({"D": 2, "B": 1, "G": 1})


def digest_openings(database: Database, letters: list[str], language: str) -> str:
    """The openings section of a team's digest with accounts at these opening letters."""
    seed = Seed(database)
    boss, lee = seed.user("Boss", "manager"), seed.user("Li Lei")
    team = seed.team(boss, "East", [lee])
    for number, letter in enumerate(letters):
        seed.account(lee, f"Account {number}", opening=letter)
    seed.visit_with_debrief(lee, seed.account(lee, "Plain"), IN_WEEK)
    text = text_of(database, team, language=language)
    start = text.index("♟")
    end = text.find("\n\n", start)
    return text[start : end if end != -1 else len(text)]


@pytest.mark.parametrize(
    ("language", "meaning", "shares"),
    [
        ("en", "existing customers are not being looked after", "Abnormal opening 50%"),
        ("zh", "老客户没有维护好", "异常开局 50%"),
    ],
)
def test_the_digest_says_what_the_openings_mean(
    both: Database, language: str, meaning: str, shares: str
) -> None:
    section = digest_openings(both, ["A", "A", "B", "C"], language)
    assert meaning in section and shares in section and "👉" in section
    assert "SalesCoach" not in section  # the signal that fired comes from the seed


@pytest.mark.parametrize(
    ("language", "calm"),
    [("en", "Nothing in this mix of openings calls for action"), ("zh", "暂时没有需要处理的问题")],
)
def test_a_healthy_mix_of_openings_says_so(both: Database, language: str, calm: str) -> None:
    section = digest_openings(both, ["A", "G", "G", "B", "E"], language)
    assert calm in section and "👉" not in section


@pytest.mark.parametrize(("language", "mark"), [("en", "rule of thumb"), ("zh", "经验规则")])
def test_a_signal_of_our_own_is_marked_as_ours(both: Database, language: str, mark: str) -> None:
    section = digest_openings(both, ["D", "D", "G", "B"], language)
    assert mark in section and "SalesCoach" in section
