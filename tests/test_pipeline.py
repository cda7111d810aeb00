"""The pipeline: forecast arithmetic, why it moved, every at-risk reason, the digest's
pipeline sections in both languages, and `salescoach pipeline` with its CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine as Database

from bot.pipeline_cli import CSV_HEADER, pipeline_report
from dialogs.core.timezones import zone_for
from dialogs.manager.pipeline import PipelineView, pipeline_view
from playbooks.loader import check_directory, inspect_playbooks, load_playbooks
from storage.db import make_engine, transaction
from storage.migrate import upgrade
from storage.models import Account, Assignment, Contact, FollowUp, Opportunity, Team, User, Visit
from storage.opportunities import update_opportunity
from tests.conftest import FIXED_NOW
from tests.test_digest import IN_WEEK, LAST_WEEK, SHANGHAI, Seed, text_of

AS_OF = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # the end of 2026-W47 in Shanghai
NOVEMBER, DECEMBER, JANUARY = date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)


@pytest.fixture
def both(any_database: str) -> Iterator[Database]:
    """A migrated database: SQLite, then PostgreSQL when the environment has one."""
    engine = make_engine(any_database)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def seed(database: Database) -> Seed:
    return Seed(database)


def view_of(database: Database, team: Team, as_of: datetime = AS_OF) -> PipelineView:
    with transaction(database) as session:
        return pipeline_view(
            session, team.id or 0, as_of=as_of, zone=zone_for(SHANGHAI), playbooks=load_playbooks()
        )


def change(database: Database, deal: Opportunity, **values: Any) -> None:
    """Update a deal during the digest's week, as /debrief would."""
    with transaction(database) as session:
        stored = session.get(Opportunity, deal.id)
        assert stored is not None
        update_opportunity(
            session, stored, stored.owner_id, now=IN_WEEK, won_stage="signed", **values
        )


def busy_pipeline(seed: Seed) -> tuple[Team, dict[str, Opportunity]]:
    """Six deals: one steady, one moved, one won, one lost, one slipped, one new this week."""
    boss, lee, han = seed.user("Boss", "manager"), seed.user("Li Lei"), seed.user("Han Mei")
    team = seed.team(boss, "East", [lee, han])
    deals = {
        "steady": seed.deal(seed.account(lee, "Steady Steel"), 1_000_000, NOVEMBER),
        "moved": seed.deal(seed.account(lee, "Moving Mills"), 500_000, DECEMBER, "potential"),
        "won": seed.deal(seed.account(han, "Winning Works"), 200_000, NOVEMBER),
        "lost": seed.deal(seed.account(han, "Lost Logistics"), 300_000, NOVEMBER),
        "slipped": seed.deal(seed.account(han, "Slow Shipping"), 400_000, NOVEMBER),
    }
    deals["new"] = seed.deal(
        seed.account(lee, "New Networks"), 100_000, DECEMBER, "potential", at=IN_WEEK
    )
    database = seed.database
    change(database, deals["moved"], stage="target")
    change(database, deals["won"], stage="signed")
    change(database, deals["lost"], lost=True)
    change(database, deals["slipped"], close_month=JANUARY)
    return team, deals


# ----- forecast arithmetic ---------------------------------------------------------------


def test_forecast_weights_open_deals_and_counts_won_ones_whole(both: Database) -> None:
    team, _ = busy_pipeline(Seed(both))
    view = view_of(both, team)
    (forecast,) = view.forecasts
    assert forecast.currency == "CNY"
    cents = 100
    # November: steady 1,000,000 × 60 % + won 200,000 whole.
    assert forecast.this_month == 800_000 * cents
    # December: moved 500,000 × 60 % + new 100,000 × 20 %.
    assert forecast.next_month == 320_000 * cents
    # A week earlier: November steady 600k + won, lost and slipped at 60 % (120k + 180k + 240k);
    # December only moved, then at 20 %.
    assert forecast.this_month_before == 1_140_000 * cents
    assert forecast.next_month_before == 100_000 * cents
    stages = {stage.stage: stage for stage in forecast.stages}
    assert (stages["target"].deals, stages["target"].value) == (3, 1_900_000 * cents)
    assert stages["target"].weighted == 1_140_000 * cents
    assert (stages["potential"].deals, stages["potential"].weighted) == (1, 20_000 * cents)
    assert view.deals == 4  # steady, moved, slipped, new


def test_why_the_forecast_changed_names_each_reason(both: Database) -> None:
    team, _ = busy_pipeline(Seed(both))
    (forecast,) = view_of(both, team).forecasts
    movements = {m.reason: (m.change // 100, m.accounts) for m in forecast.movements}
    assert movements == {
        "won": (80_000, ["Winning Works"]),
        "lost": (-180_000, ["Lost Logistics"]),
        "slipped": (-240_000, ["Slow Shipping"]),
        "moved": (200_000, ["Moving Mills"]),
        "new": (20_000, ["New Networks"]),
    }
    total = sum(change for change, _ in movements.values())
    this, before = forecast.this_month + forecast.next_month, 1_240_000 * 100
    assert total * 100 == this - before  # the reasons add up to the change


def test_probabilities_are_playbook_data(database: Database, seed: Seed) -> None:
    team, _ = busy_pipeline(seed)
    playbooks = load_playbooks()
    stages = [
        item.model_copy(update={"probability": 50}) if item.stage == "target" else item
        for item in playbooks.pipeline.stages
    ]
    company = playbooks.model_copy(
        update={"pipeline": playbooks.pipeline.model_copy(update={"stages": stages})}
    )
    with transaction(database) as session:
        view = pipeline_view(
            session, team.id or 0, as_of=AS_OF, zone=zone_for(SHANGHAI), playbooks=company
        )
    assert view.forecasts[0].this_month == (500_000 + 200_000) * 100


def test_a_later_digest_sees_the_deal_as_it_was_at_the_weeks_end(
    database: Database, seed: Seed
) -> None:
    team, deals = busy_pipeline(seed)
    with transaction(database) as session:  # a week after the digest's week, the deal is lost
        stored = session.get(Opportunity, deals["steady"].id)
        assert stored is not None
        update_opportunity(
            session, stored, stored.owner_id, now=FIXED_NOW, won_stage="signed", lost=True
        )
    assert view_of(database, team).forecasts[0].this_month == 800_000 * 100
    assert view_of(database, team, FIXED_NOW + timedelta(hours=1)).forecasts[0].this_month == (
        200_000 * 100
    )


# ----- deals at risk ---------------------------------------------------------------------


def healthy_deal(
    seed: Seed,
    owner: User,
    name: str,
    *,
    value_class: int = 2,
    contacts: bool = True,
    opponent: bool = False,
    met: bool = True,
    visit_at: datetime = IN_WEEK,
    next_step: bool = True,
    due: datetime = AS_OF + timedelta(days=3),
    close: date = DECEMBER,
    created: datetime = LAST_WEEK,
) -> Account:
    """A deal with nothing wrong, unless an option takes something away."""
    account = seed.account(owner, name, value_class=value_class)
    if contacts:
        seed.add(
            Contact(
                account_id=account.id or 0, name="Wang", role="decision_maker", stance="supporter"
            )
        )
    if opponent:
        seed.add(Contact(account_id=account.id or 0, name="Zhao", role="expert", stance="opponent"))
    seed.add(
        Visit(
            owner_id=owner.id or 0,
            account_id=account.id or 0,
            planned_at=visit_at,
            done_at=visit_at,
            status="done",
            contact_role="decision_maker" if met else "user",
        )
    )
    if next_step:
        seed.add(
            FollowUp(owner_id=owner.id or 0, account_id=account.id, text="send quote", due_at=due)
        )
    seed.deal(account, 100_000, close, at=created)
    return account


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({}, None),
        ({"close": date(2026, 10, 1)}, "close_passed"),
        ({"opponent": True}, "opponent"),
        ({"contacts": False}, "unknown_chain"),
        ({"met": False}, "no_decision_maker"),
        ({"next_step": False}, "no_next_step"),
        ({"due": IN_WEEK}, "next_step_overdue"),
        ({"value_class": 1, "visit_at": datetime(2026, 10, 1, 2, 0, tzinfo=UTC)}, "no_visit"),
        ({"created": datetime(2026, 9, 1, 2, 0, tzinfo=UTC)}, "stuck"),
    ],
)
def test_each_at_risk_reason(
    both: Database, options: dict[str, object], reason: str | None
) -> None:
    seed = Seed(both)
    boss, lee = seed.user("Boss", "manager"), seed.user("Li Lei")
    team = seed.team(boss, "East", [lee])
    healthy_deal(seed, lee, "Huaxin Steel", **options)
    view = view_of(both, team)
    if reason is None:
        assert view.at_risk == []
        return
    (rep,) = view.at_risk
    assert rep.name == "Li Lei"
    assert [(deal.account, deal.reasons) for deal in rep.deals] == [("Huaxin Steel", (reason,))]


def test_a_class_two_account_is_not_flagged_for_a_month_without_visits(
    database: Database, seed: Seed
) -> None:
    boss, lee = seed.user("Boss", "manager"), seed.user("Li Lei")
    team = seed.team(boss, "East", [lee])
    healthy_deal(seed, lee, "Quiet Corp", visit_at=datetime(2026, 10, 1, 2, 0, tzinfo=UTC))
    assert view_of(database, team).at_risk == []


# ----- the digest ------------------------------------------------------------------------


def test_digest_shows_forecast_reasons_and_risks_in_english(database: Database, seed: Seed) -> None:
    team, _ = busy_pipeline(seed)
    text = text_of(database, team)
    assert "💰 <b>Pipeline</b> · 4 open deals" in text
    assert "🔮 Forecast Nov 2026: <b>CN¥800k</b> (▼CN¥340k on last week)" in text
    assert "🔮 Forecast Dec 2026: <b>CN¥320k</b> (▲CN¥220k on last week)" in text
    assert "🏆 won +CN¥80k (Winning Works)" in text
    assert "⏳ slipped −CN¥240k (Slow Shipping)" in text
    assert "❌ lost −CN¥180k (Lost Logistics)" in text
    assert "🚩 <b>Deals at risk</b>" in text
    assert "• Steady Steel · CN¥1m · Target customer · Nov 2026: " in text
    assert "decision maker not met, no next step" in text


def test_digest_shows_the_pipeline_in_chinese(database: Database, seed: Seed) -> None:
    team, _ = busy_pipeline(seed)
    text = text_of(database, team, language="zh")
    assert "💰 <b>销售管道</b> · 在跟商机 4 个" in text
    assert "🔮 2026年11月预测：<b>¥80万</b>（比上周 ▼¥34万）" in text
    assert "🏆 赢单 +¥8万（Winning Works）" in text
    assert "目标客户（60%）：3 个 · ¥190万 → ¥114万" in text
    assert "未见过决策者、没有下一步行动" in text


@pytest.mark.parametrize("language", ["en", "zh"])
def test_an_empty_pipeline_says_how_to_fill_it(
    database: Database, seed: Seed, language: str
) -> None:
    boss, lee = seed.user("Boss", "manager"), seed.user("Li Lei")
    team = seed.team(boss, "East", [lee])
    seed.visit_with_debrief(lee, seed.account(lee, "Huaxin Steel"), IN_WEEK)
    text = text_of(database, team, language=language)
    assert "/account" in text
    assert ("no deals on record yet" if language == "en" else "还没有记录任何商机") in text
    assert ("Deals at risk" if language == "en" else "风险商机") not in text


def test_digest_follow_through_drills_claims_and_next_week(database: Database, seed: Seed) -> None:
    boss, lee = seed.user("Boss", "manager"), seed.user("Li Lei")
    team = seed.team(boss, "East", [lee])
    account = seed.account(lee, "Huaxin Steel")
    visit = seed.visit(lee, account, IN_WEEK)
    seed.debrief(
        lee, account, IN_WEEK + timedelta(hours=1), "advance", visit, judged_outcome="continuation"
    )
    seed.add(
        Assignment(
            manager_id=boss.id or 0,
            user_id=lee.id or 0,
            scenario_id="phone-appointment",
            due_at=IN_WEEK,
        )
    )
    seed.visit(lee, account, datetime(2026, 11, 24, 2, 0, tzinfo=UTC), status="planned")
    text = text_of(database, team)
    assert "🎯 <b>Drills assigned, not done</b>" in text and "<b>overdue</b>" in text
    assert "• Li Lei, Huaxin Steel: claimed Advance, judged Continuation" in text
    assert "📅 <b>Planned next week</b>: 1 visit" in text
    assert "Tue 24 Nov 10:00 · Li Lei · Huaxin Steel" in text


# ----- salescoach pipeline ---------------------------------------------------------------


def test_cli_prints_the_same_figures_and_a_csv(both: Database) -> None:
    team, _ = busy_pipeline(Seed(both))
    code, text = pipeline_report(both, team.id or 0, load_playbooks(), now=AS_OF)
    assert code == 0
    assert "Pipeline · East" in text and "Forecast Nov 2026: CN¥800k" in text
    assert "<b>" not in text
    code, output = pipeline_report(both, team.id or 0, load_playbooks(), now=AS_OF, as_csv=True)
    rows = list(csv.DictReader(io.StringIO(output)))
    assert tuple(rows[0]) == CSV_HEADER
    by_account = {row["account"]: row for row in rows}
    assert set(by_account) == {
        "Steady Steel", "Moving Mills", "Winning Works", "Lost Logistics", "Slow Shipping",
        "New Networks",
    }  # fmt: skip
    steady = by_account["Steady Steel"]
    assert (steady["value"], steady["weighted_value"], steady["close_month"]) == (
        "1000000.00",
        "600000.00",
        "2026-11",
    )
    assert steady["forecast_this_month"] == "600000.00" and steady["change_since_last_week"] == ""
    assert by_account["Winning Works"]["status"] == "won"
    assert by_account["Slow Shipping"]["change_since_last_week"] == "slipped"
    assert "no_decision_maker" in steady["at_risk"].split(";")


def test_cli_refuses_an_unknown_team(database: Database) -> None:
    code, text = pipeline_report(database, 999, load_playbooks(), now=AS_OF)
    assert code == 1 and "teams list" in text


# ----- the playbook's pipeline section ---------------------------------------------------

COMPANY_PIPELINE = """\
pipeline:
  currency: USD
  stages:
    - {stage: potential, probability: 30}
    - {stage: proposal, probability: 50}
    - {stage: signed, probability: 100}
  won_stage: signed
  risk: {no_visit_days: 21, no_visit_value_classes: [1, 2], stuck_weeks: 4}
  portfolio: {dominant_share: 50, min_open: 6}
"""


def test_a_company_pipeline_is_checked_against_the_funnel(tmp_path: Path) -> None:
    (tmp_path / "pipeline.yaml").write_text(COMPANY_PIPELINE, encoding="utf-8")
    problems = [str(problem) for problem in check_directory(tmp_path)]
    assert len(problems) == 1 and "unknown funnel stage 'proposal'" in problems[0]
    fixed = COMPANY_PIPELINE.replace("proposal", "target")
    (tmp_path / "pipeline.yaml").write_text(fixed, encoding="utf-8")
    assert check_directory(tmp_path) == []
    pipeline = inspect_playbooks(tmp_path).playbooks
    assert pipeline is not None
    assert (pipeline.pipeline.currency, pipeline.pipeline.probability("target")) == ("USD", 50)
    assert pipeline.pipeline.risk.no_visit_value_classes == [1, 2]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("won_stage: signed", "won_stage: closed"), "won_stage 'closed' is not one"),
        (("probability: 30", "probability: 130"), "percentage out of range"),
        (("currency: USD", "currency: dollars"), "should match pattern"),
    ],
)
def test_a_broken_pipeline_section_is_reported(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    text = COMPANY_PIPELINE.replace("proposal", "target").replace(*change)
    (tmp_path / "pipeline.yaml").write_text(text, encoding="utf-8")
    problems = [str(problem) for problem in check_directory(tmp_path)]
    assert any(message in problem for problem in problems), problems
