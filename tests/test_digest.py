"""The weekly digest: its numbers, sections, empty weeks, splitting, query count and week bounds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine as Database
from sqlalchemy import event
from sqlmodel import Session, select

from bot.digests import last_slot, split_for_pacing, week_for_slot
from dialogs.core.engine import Engine
from dialogs.core.texts import Texts
from dialogs.core.timezones import zone_for
from dialogs.manager.digest import (
    Digest,
    build_digest,
    digest_messages,
    dominant_class,
    parse_week,
    previous_week,
    scheduled_week,
    week_label,
    week_span,
)
from playbooks.loader import load_playbooks
from storage.db import transaction
from storage.models import (
    Account,
    AccountChange,
    Debrief,
    Drill,
    FollowUp,
    Membership,
    ObjectionLabel,
    ObjectionLog,
    Opportunity,
    Team,
    User,
    Visit,
    utcnow,
)
from storage.opportunities import add_opportunity
from tests.conftest import FIXED_NOW
from tests.helpers import Chat

SHANGHAI = "Asia/Shanghai"
WEEK = "2026-W47"  # Mon 16 – Sun 22 Nov 2026; in Shanghai: 15 Nov 16:00 – 22 Nov 16:00 UTC
IN_WEEK = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai
LAST_WEEK = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n"


class Seed:
    """Rows for digest tests, written straight to the database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.counter = 0

    @contextmanager
    def session(self) -> Iterator[Session]:
        with transaction(self.database) as session:
            yield session

    def add(self, row: Any) -> Any:
        with self.session() as session:
            session.add(row)
            session.flush()
            session.refresh(row)
            session.expunge(row)
        return row

    def user(
        self, name: str, role: str = "rep", zone: str = SHANGHAI, language: str = "en"
    ) -> User:
        self.counter += 1
        user: User = self.add(
            User(
                platform="telegram",
                platform_user_id=f"seed{self.counter}-{name}",
                display_name=name,
                role=role,
                timezone=zone,
                language=language,
                onboarded_at=utcnow(),
            )
        )
        return user

    def team(self, manager: User, name: str, members: list[User]) -> Team:
        team: Team = self.add(Team(name=name, created_by=manager.id or 0))
        self.add(Membership(team_id=team.id or 0, user_id=manager.id or 0, role="manager"))
        for member in members:
            self.add(Membership(team_id=team.id or 0, user_id=member.id or 0, role="member"))
        return team

    def account(
        self,
        owner: User,
        name: str,
        *,
        opening: str | None = None,
        value_class: int | None = None,
        stage: str = "potential",
    ) -> Account:
        account: Account = self.add(
            Account(
                owner_id=owner.id or 0,
                name=name,
                opening=opening,
                value_class=value_class,
                stage=stage,
            )
        )
        return account

    def visit(self, owner: User, account: Account, at: datetime, status: str = "done") -> Visit:
        visit: Visit = self.add(
            Visit(
                owner_id=owner.id or 0,
                account_id=account.id or 0,
                planned_at=at,
                status=status,
                done_at=at if status == "done" else None,
            )
        )
        return visit

    def debrief(
        self,
        owner: User,
        account: Account | None,
        at: datetime,
        outcome: str,
        visit: Visit | None = None,
        **answers: str,
    ) -> Debrief:
        debrief: Debrief = self.add(
            Debrief(
                owner_id=owner.id or 0,
                account_id=account.id if account else None,
                visit_id=visit.id if visit else None,
                outcome=outcome,
                created_at=at,
                **answers,
            )
        )
        return debrief

    def visit_with_debrief(
        self, owner: User, account: Account, at: datetime, outcome: str = "advance"
    ) -> Debrief:
        visit = self.visit(owner, account, at)
        return self.debrief(owner, account, at + timedelta(hours=2), outcome, visit)

    def follow_up(self, owner: User, due: datetime, *, done_at: datetime | None = None) -> FollowUp:
        follow_up: FollowUp = self.add(
            FollowUp(
                owner_id=owner.id or 0,
                text="call back",
                due_at=due,
                status="done" if done_at else "open",
                done_at=done_at,
            )
        )
        return follow_up

    def objection(
        self,
        owner: User,
        kind: str,
        at: datetime,
        response: str | None = None,
        outcome: str | None = None,
    ) -> None:
        self.add(
            ObjectionLog(
                owner_id=owner.id or 0,
                objection_type=kind,
                response=response,
                outcome=outcome,
                created_at=at,
            )
        )

    def stage_change(self, account: Account, at: datetime, old: str | None, new: str) -> None:
        self.add(
            AccountChange(
                account_id=account.id or 0,
                changed_by=account.owner_id,
                field_name="stage",
                old_value=old,
                new_value=new,
                changed_at=at,
            )
        )

    def deal(
        self,
        account: Account,
        value: int,
        close_month: date,
        stage: str = "target",
        at: datetime = LAST_WEEK,
    ) -> Opportunity:
        """A deal worth `value` (major units, CNY) created at `at` through the storage functions."""
        with self.session() as session:
            stored = session.get(Account, account.id)
            assert stored is not None
            deal = add_opportunity(
                session,
                stored,
                stored.owner_id,
                value_minor=value * 100,
                currency="CNY",
                close_month=close_month,
                stage=stage,
                now=at,
                won_stage="signed",
            )
            session.flush()
            session.expunge(deal)
        return deal

    def drill(
        self, user: User, finished_at: datetime, total: int, scenario: str = "phone-appointment"
    ) -> None:
        self.add(
            Drill(
                user_id=user.id or 0,
                scenario_id=scenario,
                language="en",
                status="finished",
                total=total,
                finished_at=finished_at,
            )
        )


@pytest.fixture
def seed(database: Database) -> Seed:
    return Seed(database)


def digest_of(
    database: Database,
    team: Team,
    week: str = WEEK,
    zone: str = SHANGHAI,
    now: datetime = FIXED_NOW,
) -> Digest:
    with transaction(database) as session:
        digest = build_digest(
            session, team.id or 0, week, zone=zone_for(zone), now=now, playbooks=load_playbooks()
        )
    assert digest is not None
    return digest


def text_of(database: Database, team: Team, language: str = "en", **kwargs: Any) -> str:
    messages = digest_messages(
        digest_of(database, team, **kwargs), Texts(language), load_playbooks(), chart=False
    )
    return "\n".join(message.text for message in messages)


def rep_block(text: str, name: str) -> str:
    """The lines of one rep in the per-rep section."""
    start = text.index(f"👤 <b>{name}</b>")
    end = text.find("👤", start + 1)
    section_end = text.find("\n\n", start)
    return text[start : min(e for e in (end, section_end) if e != -1)]


# ----- per rep, and team totals -------------------------------------------------------------


def test_per_rep_numbers(database: Database, seed: Seed) -> None:
    boss = seed.user("Boss", "manager")
    lee, mei = seed.user("Li Lei"), seed.user("Han Mei")
    team = seed.team(boss, "East", [lee, mei])
    acme = seed.account(lee, "Acme")
    seed.visit_with_debrief(lee, acme, IN_WEEK, "advance")
    seed.visit_with_debrief(lee, acme, IN_WEEK + timedelta(days=1), "continuation")
    seed.visit(lee, acme, IN_WEEK + timedelta(days=2), status="planned")  # took place, no debrief
    seed.visit(lee, acme, IN_WEEK + timedelta(days=3), status="cancelled")
    seed.follow_up(lee, IN_WEEK, done_at=IN_WEEK + timedelta(hours=1))
    seed.follow_up(lee, IN_WEEK - timedelta(days=1))  # still open: overdue
    seed.follow_up(lee, FIXED_NOW + timedelta(days=1))  # open, not yet due
    seed.objection(lee, "price", IN_WEEK)
    seed.objection(lee, "no_budget", IN_WEEK)
    seed.objection(lee, "price", LAST_WEEK)
    text = text_of(database, team)
    lee_block = rep_block(text, "Li Lei")
    assert "Visits 3 planned, 2 done · debriefs 2/2" in lee_block
    assert "Advances 1 vs continuations 1 · follow-ups 1 done, 1 overdue" in lee_block
    assert "Objections logged 2" in lee_block
    assert "drills" not in lee_block  # nobody has done a role-play drill yet
    assert "👤 <b>Han Mei</b> · no activity this week" in text
    assert "<b>Boss</b>" not in text.split("📈")[0]  # managers are not listed as reps


def test_outcomes_count_the_coachs_judgement_not_the_reps_claim(
    database: Database, seed: Seed
) -> None:
    boss, lee = seed.user("Boss", "manager"), seed.user("Li Lei")
    team = seed.team(boss, "East", [lee])
    acme = seed.account(lee, "Acme")
    # "He said he'd think about sharing numbers": claimed an advance, judged a continuation.
    seed.debrief(lee, acme, IN_WEEK, "advance", judged_outcome="continuation")
    seed.debrief(lee, acme, IN_WEEK + timedelta(hours=1), "advance", judged_outcome="advance")
    seed.debrief(lee, acme, IN_WEEK + timedelta(hours=2), "advance")  # before judgements: as said
    text = text_of(database, team)
    assert "Advances 2 vs continuations 1" in rep_block(text, "Li Lei")
    assert "Advances: <b>2</b>" in text and "Continuations: <b>1</b>" in text


def test_two_judged_continuations_in_a_row_are_flagged(database: Database, seed: Seed) -> None:
    boss, ann = seed.user("Boss", "manager"), seed.user("Ann")
    team = seed.team(boss, "East", [ann])
    stuck = seed.account(ann, "Stuck Co")
    seed.debrief(ann, stuck, LAST_WEEK, "continuation")
    seed.debrief(ann, stuck, IN_WEEK, "advance", judged_outcome="continuation")
    assert "two continuations in a row on Stuck Co" in text_of(database, team)


def test_drills_appear_once_someone_has_done_one(database: Database, seed: Seed) -> None:
    boss, lee = seed.user("Boss", "manager"), seed.user("Li Lei")
    team = seed.team(boss, "East", [lee])
    seed.drill(lee, IN_WEEK, 21)  # phone-appointment: five criteria, 35 at most
    seed.drill(lee, IN_WEEK + timedelta(hours=1), 29)
    seed.drill(lee, LAST_WEEK, 15)
    text = text_of(database, team)
    assert "drills 2 (average 25/35)" in rep_block(text, "Li Lei")
    assert "Role-play drills: <b>2</b> (▲1)" in text
    assert "Average drill score: <b>25/35</b>" in text


def test_drill_scores_carry_the_maximum_of_their_scenarios(database: Database, seed: Seed) -> None:
    boss, lee = seed.user("Boss", "manager"), seed.user("Li Lei")
    team = seed.team(boss, "East", [lee])
    seed.drill(lee, IN_WEEK, 30)  # out of 35
    seed.drill(lee, IN_WEEK, 24, "objection-no-need")  # four criteria: out of 28
    assert "drills 2 (average 27/32)" in rep_block(text_of(database, team), "Li Lei")
    assert "（平均 27/32 分）" in text_of(database, team, "zh")


def test_a_trainee_is_reported_by_drills_not_visits(database: Database, seed: Seed) -> None:
    boss, tina = seed.user("Boss", "manager"), seed.user("Tina", "trainee")
    team = seed.team(boss, "East", [tina])
    seed.drill(tina, IN_WEEK, 24)
    seed.drill(tina, IN_WEEK + timedelta(hours=1), 28)
    block = rep_block(text_of(database, team), "Tina")
    assert "trainee" in block and "Drills finished 2 · average score 26/35" in block
    assert "Visits" not in block and "debriefs" not in block
    chinese = text_of(database, team, "zh")
    assert "学员" in chinese and "完成演练 2 · 平均 26/35 分" in chinese


def test_team_totals_compare_with_the_previous_week(database: Database, seed: Seed) -> None:
    boss = seed.user("Boss", "manager")
    lee, mei = seed.user("Li Lei"), seed.user("Han Mei")
    team = seed.team(boss, "East", [lee, mei])
    acme = seed.account(lee, "Acme")
    for offset in range(3):
        seed.visit_with_debrief(lee, acme, IN_WEEK + timedelta(hours=offset), "advance")
    seed.visit_with_debrief(mei, acme, IN_WEEK, "continuation")
    seed.visit_with_debrief(mei, acme, LAST_WEEK, "advance")
    seed.visit_with_debrief(mei, acme, LAST_WEEK + timedelta(hours=1), "advance")
    seed.objection(mei, "price", LAST_WEEK)
    text = text_of(database, team)
    assert "Visits done: <b>4</b> (▲2)" in text
    assert "Debriefs: <b>4</b> (▲2)" in text
    assert "Advances: <b>3</b> (▲1)" in text
    assert "Continuations: <b>1</b> (▲1)" in text
    assert "Objections logged: <b>0</b> (▼1)" in text
    assert "Follow-ups done: <b>0</b> (same)" in text


# ----- objections, openings, value mix, funnel -----------------------------------------------


def test_frequent_objections_with_the_best_rated_answer(database: Database, seed: Seed) -> None:
    boss = seed.user("Boss", "manager")
    lee, mei = seed.user("Li Lei"), seed.user("Han Mei")
    outsider = seed.user("Other team rep")
    team = seed.team(boss, "East", [lee, mei])
    seed.team(seed.user("Other boss", "manager"), "West", [outsider])
    for _ in range(3):
        seed.objection(lee, "price", IN_WEEK)
    seed.objection(mei, "no_budget", IN_WEEK)
    seed.objection(mei, "no_budget", IN_WEEK)
    seed.objection(lee, "too_busy", IN_WEEK)
    seed.objection(lee, "too_busy", IN_WEEK)
    seed.objection(lee, "send_info", IN_WEEK)  # fourth most frequent: not listed
    # Best rated: "worked" beats a newer "partly"; "failed" and other teams never count.
    seed.objection(mei, "price", LAST_WEEK - timedelta(days=30), "Show the total cost", "worked")
    seed.objection(lee, "price", LAST_WEEK, "Offer a discount", "partly")
    seed.objection(lee, "price", IN_WEEK, "Argued", "failed")
    seed.objection(outsider, "no_budget", IN_WEEK, "Outsider's secret answer", "worked")
    seed.objection(lee, "no_budget", LAST_WEEK, "Split the payment", "partly")
    text = text_of(database, team)
    section = text[text.index("🛡") : text.index("\n\n", text.index("🛡"))]
    assert "1. <b>Price too high</b> × 4" in section
    assert "2. <b>No budget</b> × 2" in section
    assert "3. <b>Too busy</b> × 2" in section and "4. " not in section
    assert "from Han Mei (it worked): “Show the total cost”" in section
    assert "from Li Lei (it partly worked): “Split the payment”" in section
    assert "No answer that worked is on record yet" in section
    assert "Outsider" not in text and "Argued" not in text


def test_how_often_reps_corrected_the_coach(database: Database, seed: Seed) -> None:
    boss = seed.user("Boss", "manager")
    lee, outsider = seed.user("Li Lei"), seed.user("Other team rep")
    team = seed.team(boss, "East", [lee])
    seed.team(seed.user("Other boss", "manager"), "West", [outsider])
    picks = [
        (lee, "price", "no_budget", IN_WEEK),
        (lee, "price", "no_budget", IN_WEEK),
        (lee, "no_trust", "no_trust", IN_WEEK),  # unsure, but the first guess was right
        (lee, None, "too_busy", IN_WEEK),  # nothing to guess from
        (lee, "price", "send_info", LAST_WEEK),  # last week: not counted
        (outsider, "price", "no_need", IN_WEEK),  # another team: not counted
    ]
    for owner, guess, pick, when in picks:
        seed.add(
            ObjectionLabel(
                owner_id=owner.id or 0, text="…", label=pick, predicted=guess, created_at=when
            )
        )
    seed.objection(lee, "no_budget", IN_WEEK)
    text = text_of(database, team)
    line = next(line for line in text.splitlines() if line.startswith("🧭"))
    assert "read 4 objections unsurely" in line
    assert "Corrected: Price too high → No budget × 2." in line
    assert "No need" not in line and "Send me information" not in line
    chinese = text_of(database, team, "zh")
    assert "有 4 条异议教练没有把握" in chinese and "价格太高 → 没预算 × 2" in chinese


def test_openings_list_problem_and_abnormal_accounts(database: Database, seed: Seed) -> None:
    boss, lee = seed.user("Boss", "manager"), seed.user("Li Lei")
    team = seed.team(boss, "East", [lee])
    for name, letter in [
        ("Delta <Corp> & Co", "D"),
        ("Foxtrot", "F"),
        ("Alpha", "A"),
        ("India", "I"),
        ("Golf", "G"),
        ("Golf 2", "G"),
    ]:
        seed.account(lee, name, opening=letter)
    seed.account(lee, "Signed Delta", opening="D", stage="signed")  # no longer open
    seed.visit_with_debrief(lee, seed.account(lee, "Plain"), IN_WEEK)
    text = text_of(database, team)
    section = text[text.index("♟") : text.index("\n\n", text.index("♟"))]
    assert "A: 1 · D: 1 · F: 1 · G: 2 · I: 1" in section
    assert "⚠️ <b>Problem opening</b> (D, F)" in section
    assert "• Delta &lt;Corp&gt; &amp; Co: D, Li Lei" in section
    assert "• Foxtrot: F, Li Lei" in section
    assert "🚨 <b>Abnormal opening</b> (A, I)" in section
    assert "• Alpha: A, Li Lei" in section and "• India: I, Li Lei" in section
    assert "Golf" not in section.split("\n", 2)[2] and "Signed" not in section


def test_value_mix_with_the_portfolio_diagnosis(database: Database, seed: Seed) -> None:
    boss, lee = seed.user("Boss", "manager"), seed.user("Li Lei")
    team = seed.team(boss, "East", [lee])
    for index in range(3):
        seed.account(lee, f"Big {index}", value_class=1)
    seed.account(lee, "Seed", value_class=2)
    seed.account(lee, "Won", value_class=4, stage="signed")
    seed.visit_with_debrief(lee, seed.account(lee, "No class"), IN_WEEK)
    text = text_of(database, team)
    playbook = load_playbooks().value_matrix
    assert "<b>Value mix</b> of 4 open opportunities" in text
    assert f"{playbook.classes[0].label.get('en')}: 3 (75%)" in text
    diagnosis = playbook.diagnosis(1)
    assert diagnosis is not None
    assert diagnosis.diagnosis.get("en") in text and diagnosis.action.get("en") in text
    portfolio = load_playbooks().pipeline.portfolio  # 40 % of at least 4, from pipeline.yaml
    assert dominant_class({1: 1, 2: 1, 3: 1, 4: 1}, portfolio) is None
    assert dominant_class({3: 2, 4: 1}, portfolio) is None  # too few to judge
    assert dominant_class({4: 5, 1: 2, 2: 2}, portfolio) == 4
    stricter = portfolio.model_copy(update={"dominant_share": 60, "min_open": 2})
    assert dominant_class({4: 5, 1: 2, 2: 2}, stricter) is None  # 5 of 9 is under 60 %
    assert dominant_class({3: 2, 4: 1}, stricter) == 3


def test_funnel_moves_are_accounts_that_changed_stage(database: Database, seed: Seed) -> None:
    boss, lee = seed.user("Boss", "manager"), seed.user("Li Lei")
    team = seed.team(boss, "East", [lee])
    moved = seed.account(lee, "Moved", stage="target")
    twice = seed.account(lee, "Twice", stage="signed")
    back = seed.account(lee, "Back and forth")
    created = seed.account(lee, "Just created")
    earlier = seed.account(lee, "Moved last week", stage="target")
    seed.stage_change(moved, IN_WEEK, "potential", "target")
    seed.stage_change(twice, IN_WEEK, "potential", "target")
    seed.stage_change(twice, IN_WEEK + timedelta(days=1), "target", "signed")
    seed.stage_change(back, IN_WEEK, "potential", "target")
    seed.stage_change(back, IN_WEEK + timedelta(hours=1), "target", "potential")
    seed.stage_change(created, IN_WEEK, None, "potential")
    seed.stage_change(earlier, LAST_WEEK, "potential", "target")
    text = text_of(database, team)
    section = text[text.index("🔀") : text.index("\n\n", text.index("🔀"))]
    assert "• Moved (Li Lei): Potential customer → Target customer" in section
    assert "• Twice (Li Lei): Potential customer → Signed customer" in section
    assert "Back and forth" not in section and "Just created" not in section
    assert "last week" not in section


def test_needs_attention_gives_the_reason(database: Database, seed: Seed) -> None:
    boss = seed.user("Boss", "manager")
    lee, mei, ann = seed.user("Li Lei"), seed.user("Han Mei"), seed.user("Ann")
    team = seed.team(boss, "East", [lee, mei, ann])
    acme = seed.account(lee, "Acme")
    seed.visit(lee, acme, IN_WEEK, status="planned")  # happened, never debriefed
    seed.visit(lee, acme, IN_WEEK + timedelta(hours=3))  # done, never debriefed
    for days in range(3):
        seed.follow_up(mei, IN_WEEK - timedelta(days=days))
    for days in range(2):
        seed.follow_up(ann, IN_WEEK - timedelta(days=days))  # two overdue: not yet alarming
    stuck = seed.account(ann, "Stuck & Co")
    seed.debrief(ann, stuck, LAST_WEEK - timedelta(days=20), "continuation")
    seed.debrief(ann, stuck, IN_WEEK, "continuation")
    moving = seed.account(ann, "Moving")
    seed.debrief(ann, moving, LAST_WEEK, "continuation")
    seed.debrief(ann, moving, IN_WEEK, "advance")
    seed.debrief(ann, moving, IN_WEEK + timedelta(days=1), "continuation")
    text = text_of(database, team)
    section = text[text.index("🔔") :]
    assert "• <b>Li Lei</b>: 2 visits without a debrief" in section
    assert "• <b>Han Mei</b>: 3 overdue follow-ups" in section
    assert "• <b>Ann</b>: two continuations in a row on Stuck &amp; Co" in section
    assert "Moving" not in section and "<b>Ann</b>: 2" not in section


def test_a_quiet_week_is_one_friendly_line(database: Database, seed: Seed) -> None:
    boss, lee = seed.user("Boss", "manager"), seed.user("Li Lei")
    team = seed.team(boss, "East", [lee])
    seed.visit_with_debrief(lee, seed.account(lee, "Acme"), LAST_WEEK)  # only last week
    messages = digest_messages(digest_of(database, team), Texts("en"), load_playbooks())
    assert len(messages) == 1
    assert messages[0].text.count("\n") == 0
    assert "a quiet week" in messages[0].text and "0" not in messages[0].text.split("(")[0]
    assert messages[0].attachments == {} and messages[0].buttons == []
    zh = digest_messages(digest_of(database, team), Texts("zh"), load_playbooks())
    assert len(zh) == 1 and "很安静" in zh[0].text


def test_a_team_without_members_says_so(database: Database, seed: Seed) -> None:
    team = seed.team(seed.user("Boss", "manager"), "New", [])
    messages = digest_messages(digest_of(database, team), Texts("en"), load_playbooks())
    assert len(messages) == 1 and "no members yet" in messages[0].text


def test_names_typed_by_users_are_escaped(database: Database, seed: Seed) -> None:
    boss, rep = seed.user("Boss", "manager"), seed.user("<i>Eve</i> & co")
    team = seed.team(boss, "<b>Team</b>", [rep])
    seed.visit_with_debrief(rep, seed.account(rep, "<script>"), IN_WEEK)
    text = text_of(database, team)
    assert "<i>Eve" not in text and "&lt;i&gt;Eve&lt;/i&gt; &amp; co" in text
    assert "&lt;b&gt;Team&lt;/b&gt;" in text and "<script>" not in text


# ----- the message and its chart -----------------------------------------------------------


def test_digest_message_has_rep_buttons_and_a_png_chart(database: Database, seed: Seed) -> None:
    boss, lee = seed.user("Boss", "manager"), seed.user("Li Lei")
    team = seed.team(boss, "East", [lee])
    seed.visit_with_debrief(lee, seed.account(lee, "Acme"), IN_WEEK)
    for language in ("en", "zh"):
        messages = digest_messages(digest_of(database, team), Texts(language), load_playbooks())
        last = messages[-1]
        [[button]] = last.buttons
        assert button.label == "📝 Li Lei" and button.data == f"@m{lee.id}:debriefs"
        [(name, chart)] = last.attachments.items()
        assert name == "digest-2026-W47.png" and chart.startswith(PNG)
        width, height = int.from_bytes(chart[16:20], "big"), int.from_bytes(chart[20:24], "big")
        assert width == 864 and 400 < height < 2400  # phone width, and not a long strip
    units = split_for_pacing(messages)
    assert [bool(unit.attachments) for unit in units] == [False] * len(messages) + [True]


def test_a_big_team_is_split_below_telegrams_limit(database: Database, seed: Seed) -> None:
    boss = seed.user("Boss", "manager")
    reps = [
        seed.user(f"Representative number {index:02d} of the East region") for index in range(60)
    ]
    team = seed.team(boss, "East", reps)
    for rep in reps:
        account = seed.account(rep, f"Account of {rep.display_name}", opening="D")
        seed.visit_with_debrief(rep, account, IN_WEEK, "continuation")
        seed.visit(rep, account, IN_WEEK + timedelta(hours=5), status="planned")
    for language in ("en", "zh"):
        messages = digest_messages(digest_of(database, team), Texts(language), load_playbooks())
        assert len(messages) >= 3
        for message in messages:
            assert 0 < len(message.text) < 4096
            for tag in ("b", "i", "code"):
                assert message.text.count(f"<{tag}>") == message.text.count(f"</{tag}>")
        assert all(not message.attachments for message in messages[:-1])
        assert messages[-1].attachments
        buttons = [button for row in messages[-1].buttons for button in row]
        assert len(buttons) == 40 and all(len(b.data.encode()) <= 64 for b in buttons)


# ----- a constant number of queries -----------------------------------------------------


def count_queries(database: Database, team: Team) -> int:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(database, "before_cursor_execute", record)
    try:
        digest_of(database, team)
    finally:
        event.remove(database, "before_cursor_execute", record)
    return len(statements)


def busy_team(seed: Seed, size: int, name: str) -> Team:
    reps = [seed.user(f"{name} rep {index}") for index in range(size)]
    team = seed.team(seed.user(f"{name} boss", "manager"), name, reps)
    for rep in reps:
        account = seed.account(rep, f"{rep.display_name} account", opening="A", value_class=2)
        seed.visit_with_debrief(rep, account, IN_WEEK, "continuation")
        seed.visit_with_debrief(rep, account, LAST_WEEK, "continuation")
        seed.visit(rep, account, IN_WEEK + timedelta(hours=4), status="planned")
        seed.follow_up(rep, IN_WEEK)
        seed.objection(rep, "price", IN_WEEK, "Total cost of ownership", "worked")
        seed.stage_change(account, IN_WEEK, "potential", "target")
        seed.drill(rep, IN_WEEK, 60)
        seed.deal(account, 100_000, date(2026, 11, 1))
    return team


def test_query_count_does_not_grow_with_team_size(database: Database, seed: Seed) -> None:
    small, large = busy_team(seed, 5, "Small"), busy_team(seed, 20, "Large")
    small_count, large_count = count_queries(database, small), count_queries(database, large)
    assert small_count == large_count
    # 15 for the week's numbers, 9 for the pipeline (deals, their history, four account
    # signs) and the follow-through (drills owed, judged calls, next week's visits).
    assert small_count <= 24


# ----- weeks and time zones --------------------------------------------------------------


def test_iso_weeks_are_read_in_the_managers_zone() -> None:
    shanghai, los_angeles = zone_for(SHANGHAI), zone_for("America/Los_Angeles")
    span = week_span(WEEK, shanghai)
    assert (span.start, span.end) == (
        datetime(2026, 11, 15, 16, 0, tzinfo=UTC),
        datetime(2026, 11, 22, 16, 0, tzinfo=UTC),
    )
    la_span = week_span(WEEK, los_angeles)
    assert la_span.start == datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    # Sunday 23:30 UTC: still Sunday in Los Angeles, already Monday in Shanghai.
    late_sunday = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert week_label(late_sunday, shanghai) == "2026-W48"
    assert week_label(late_sunday, los_angeles) == "2026-W47"
    assert week_label(late_sunday, UTC) == "2026-W47"
    assert previous_week("2027-W01") == "2026-W53"
    assert parse_week("2026-w47") == (2026, 47)
    assert parse_week("2025-W53") is None and parse_week("2026-47") is None


def test_the_same_visit_counts_in_the_week_of_the_managers_zone(
    database: Database, seed: Seed
) -> None:
    boss, lee = seed.user("Boss", "manager"), seed.user("Li Lei")
    team = seed.team(boss, "East", [lee])
    # Monday 01:00 in Shanghai, still Sunday 09:00 in Los Angeles.
    seed.visit_with_debrief(
        lee, seed.account(lee, "Acme"), datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
    )
    shanghai_w48 = digest_of(database, team, week="2026-W48", zone=SHANGHAI)
    la_w47 = digest_of(database, team, week="2026-W47", zone="America/Los_Angeles")
    la_w48 = digest_of(database, team, week="2026-W48", zone="America/Los_Angeles")
    assert shanghai_w48.counts(lee.id or 0).visits_done == 1
    assert la_w47.counts(lee.id or 0).visits_done == 1
    assert la_w48.counts(lee.id or 0).visits_done == 0


def test_which_week_a_scheduled_digest_covers() -> None:
    shanghai = zone_for(SHANGHAI)
    monday_morning = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
    friday = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert scheduled_week(monday_morning, shanghai) == "2026-W47"  # the week that just ended
    assert scheduled_week(friday, shanghai) == "2026-W48"  # the week so far
    slot = last_slot(datetime(2026, 11, 23, 1, 0, tzinfo=UTC), shanghai, 1, "08:30")
    assert slot == datetime(2026, 11, 23, 8, 30, tzinfo=shanghai)
    before = last_slot(datetime(2026, 11, 23, 0, 0, tzinfo=UTC), shanghai, 1, "08:30")
    assert before == datetime(2026, 11, 16, 8, 30, tzinfo=shanghai)
    manager = User(platform="t", platform_user_id="1", timezone=SHANGHAI)
    assert week_for_slot(datetime(2026, 11, 24, 3, 0, tzinfo=UTC), manager) == "2026-W47"


# ----- /digest and /digestsettings through the engine -----------------------------------


def test_digest_command_for_managers_only(engine: Engine, database: Database, seed: Seed) -> None:
    manager = Chat(engine, "2001", "Wang Fang")
    manager.onboard(role="Sales manager")
    manager.say("/newteam East")
    rep = Chat(engine, "2002", "Li Lei")
    rep.onboard()
    with transaction(database) as session:
        user = session.exec(select(User).where(User.display_name == "Li Lei")).one()
        session.add(Membership(team_id=1, user_id=user.id or 0))
    seed.visit(user, seed.account(user, "Acme"), FIXED_NOW - timedelta(hours=1))
    replies = manager.say("/digest")
    assert "Weekly digest · East" in replies[0].text and "Week 48" in replies[0].text
    assert replies[-1].attachments and next(iter(replies[-1].attachments.values())).startswith(PNG)
    past = manager.say("/digest 2026-w40")
    assert "week 40 (28 Sept – 4 Oct): a quiet week" in past[0].text
    assert "couldn't read that week" in manager.say("/digest next week")[0].text
    assert "isn't available for your role" in rep.say("/digest")[0].text


def test_digest_settings_change_day_time_and_switch_off(engine: Engine, database: Database) -> None:
    manager = Chat(engine, "2001", "Wang Fang")
    manager.onboard(role="Sales manager")
    manager.say("/digestsettings")
    assert "Every <b>Monday</b> at <b>08:30</b> (Asia/Shanghai)" in manager.text
    manager.press("Day")
    manager.press("Friday")
    assert "every <b>Friday</b> at <b>08:30</b>" in manager.text
    manager.say("/digestsettings")
    manager.press("Time")
    manager.say("25:00")
    assert "like 08:30" in manager.text
    manager.say("17:45")
    assert "every <b>Friday</b> at <b>17:45</b>" in manager.text
    manager.say("/digestsettings")
    manager.press("Turn it off")
    assert "no weekly digest" in manager.text
    with Session(database) as session:
        user = session.get(User, 1)
        assert user is not None
        assert (user.digest_weekday, user.digest_time, user.digest_enabled) == (5, "17:45", False)
    manager.say("/digestsettings")
    assert "Switched <b>off</b>" in manager.text
    manager.press("Turn it on")
    assert "every <b>Friday</b>" in manager.text
    rep = Chat(engine, "2002", "Li Lei")
    rep.onboard()
    assert "isn't available for your role" in rep.say("/digestsettings")[0].text


def test_chinese_digest_reads_naturally(database: Database, seed: Seed) -> None:
    boss, lee = seed.user("Boss", "manager", language="zh"), seed.user("李雷")
    team = seed.team(boss, "华东大客户部", [lee])
    seed.visit_with_debrief(lee, seed.account(lee, "华信钢铁", opening="D", value_class=1), IN_WEEK)
    text = text_of(database, team, language="zh")
    assert "📊 <b>团队周报 · 华东大客户部</b>" in text
    assert "第 47 周 · 11月16日 – 11月22日" in text
    assert "拜访：计划 1，完成 1 · 复盘 1/1" in text
    assert "• 华信钢铁：D，李雷" in text
    words = re.sub(r"/[a-z]+", "", text.replace("<b>", "").replace("</b>", ""))  # not commands
    assert not re.search(r"[A-Za-z]{4,}", words)
