"""`/visit` and `/brief`: the checklist, objective coaching, the opening grid, and access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from dialogs.catalog import ACTIONS, COMMANDS, DIALOGS
from dialogs.core.engine import Engine
from dialogs.core.io import Incoming
from dialogs.field.visit_dialog import needs_customer_action, own_questions
from storage.models import Account, AccountChange, Contact, Reminder, User, Visit
from tests.conftest import FIXED_NOW
from tests.helpers import Chat
from understanding.readers import Understanding

UNDERSTANDING = Understanding()


# ----- helpers -------------------------------------------------------------------------


def visits(database: Database) -> list[Visit]:
    with Session(database) as session:
        found = list(session.exec(select(Visit).order_by(Visit.id)))  # type: ignore[arg-type]
        for visit in found:
            session.expunge(visit)
        return found


def add_account(
    database: Database,
    name: str,
    *,
    user_id: str = "1001",
    industry: str = "manufacturing",
    contacts: tuple[tuple[str, str], ...] = (),
) -> int:
    """An account (and contacts) of an onboarded user, written straight to the database."""
    with Session(database) as session:
        owner = session.exec(select(User).where(User.platform_user_id == user_id)).one()
        account = Account(owner_id=owner.id or 0, name=name, industry=industry)
        session.add(account)
        session.flush()
        for contact_name, role in contacts:
            session.add(Contact(account_id=account.id or 0, name=contact_name, role=role))
        session.commit()
        return account.id or 0


def add_visit(database: Database, account_id: int, planned_at: datetime, **fields: object) -> int:
    with Session(database) as session:
        account = session.get(Account, account_id)
        assert account is not None
        visit = Visit(owner_id=account.owner_id, account_id=account_id, planned_at=planned_at)
        for name, value in fields.items():
            setattr(visit, name, value)
        session.add(visit)
        session.commit()
        return visit.id or 0


def rep(engine: Engine, user_id: str = "1001", language: str = "en") -> Chat:
    chat = Chat(engine, user_id=user_id, language=language)
    if language == "zh":
        chat.onboard(role="销售代表", zone="上海")
    else:
        chat.onboard()
    return chat


def to_objective(chat: Chat, account: str = "Huaxin Steel") -> None:
    """Start /visit on an existing account and answer up to the objective."""
    chat.say(f"/visit {account}")
    chat.say("tomorrow 3pm")
    chat.press("Yes")
    chat.say("Director Wang")
    chat.press("Decision maker")


def to_territory(chat: Chat, account: str = "Huaxin Steel") -> None:
    to_objective(chat, account)
    chat.say("Director Wang agrees to a one-month trial in workshop 2")


def skip_to_end(chat: Chat) -> None:
    """From the questions step on: pick nothing, skip the rest."""
    for _ in range(5):
        if "Visit brief" in chat.text:
            return
        chat.say("/skip")
    assert "Visit brief" in chat.text


# ----- objective coaching: the pure function -----------------------------------------


@pytest.mark.parametrize(
    ("objective", "vague"),
    [
        ("Build the relationship", True),
        ("introduce the product to the IT team", True),
        ("Touch base and follow-up on the quote", True),
        ("Have lunch with Mr Wang", True),
        ("provide a quote", True),  # the rep's own activity
        ("agree to think about it", True),  # no commitment
        ("Director Li agrees to arrange a technical session", False),
        ("Mr Wang signs the framework contract", False),
        ("Purchasing provides the list of current equipment", False),
    ],
)
def test_english_objectives(objective: str, vague: bool) -> None:
    assert needs_customer_action(objective, UNDERSTANDING) is vague


@pytest.mark.parametrize(
    ("objective", "vague"),
    [
        ("建立关系", True),
        ("去介绍产品", True),
        ("跟进一下报价", True),
        ("确认他们有没有预算", True),  # the rep finds out: no customer action
        ("王总同意安排一次技术交流", False),
        ("采购部提供现有设备清单", False),
        ("拿到设备清单", False),  # the customer hands it over
        ("客户签约", False),
    ],
)
def test_chinese_objectives(objective: str, vague: bool) -> None:
    assert needs_customer_action(objective, UNDERSTANDING) is vague


def test_own_questions_are_read_one_per_line() -> None:
    typed = "1. How many sites?\n\n- Who signs off?\n• 谁来拍板？\n  2) Budget cycle?  "
    assert own_questions(typed) == [
        "How many sites?",
        "Who signs off?",
        "谁来拍板？",
        "Budget cycle?",
    ]
    assert own_questions(None) == []


# ----- the full flow ---------------------------------------------------------------------


def test_full_visit_in_english_with_a_new_account(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    chat.say("/visit")
    assert "prepare your visit" in chat.text
    chat.say("Huaxin Steel")  # no accounts yet: the name is asked straight away
    chat.press("Manufacturing")
    chat.say("tomorrow 3pm")
    assert "Tue 24 Nov 2026, 15:00" in chat.text  # echoed in the user's zone
    chat.press("Yes")
    assert "Who will you meet?" in chat.text
    chat.say("Director Wang")
    chat.press("Decision maker")
    assert "cares about" in chat.text
    chat.say("Build the relationship")
    assert "what do you want the customer to agree to do" in chat.text
    chat.say("Director Wang agrees to a one-month trial")
    chat.press("Our territory")
    chat.press("Even")
    assert "Opening position <b>D</b> · Problem opening" in chat.text
    assert "No classic strategy is the first move in D" in chat.text
    chat.press("Divide and conquer")  # the rep's own pick: a retreat strategy
    assert "S1" in chat.labels() or "▫️ S1" in chat.labels()
    chat.press("S1")
    chat.press("I2")
    chat.press("Done")
    assert "2 picked" in chat.text
    chat.say("How do you plan for peak season?\nWho signs off?")
    chat.press("No budget")
    chat.press("Price too high")
    chat.press("Done")
    assert "Objection 1 of 2: <b>No budget</b>" in chat.text
    assert "Ideas from the playbook" in chat.text
    chat.say("Phase the payments over the year")
    assert "Objection 2 of 2: <b>Price too high</b>" in chat.text
    chat.say("Compare the five-year cost, not the sticker price")
    chat.press("Reference customers")
    chat.press("Site visit")
    chat.press("Done")
    chat.say("Invite them to see the Nanjing site")
    brief = chat.text
    assert len(chat.replies) == 1 and len(brief) < 4096
    for expected in (
        "Visit brief: Huaxin Steel",
        "Tue 24 Nov 2026, 15:00",
        "Director Wang · Decision maker",
        "<b>Objective:</b> Director Wang agrees to a one-month trial",
        "<b>Stance unknown:</b> Director Wang (Decision maker)",  # not in the chain yet
        "<b>Opening D</b> (Problem opening)",
        "Divide and conquer (↩️ a retreat strategy: not a first move)",
        "3. How do you plan for peak season?",
        "<b>No budget</b>: Phase the payments",
        "Reference customers, Site visit",
        "Nanjing site",
        "/brief",
    ):
        assert expected in brief, expected
    assert "Build the relationship" not in brief  # the vague objective the coach rejected
    assert "No decision maker" not in brief  # Director Wang decides

    [visit] = visits(database)
    assert visit.status == "planned"
    assert visit.planned_at == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert (visit.contact_id, visit.contact_name, visit.contact_role) == (
        None,
        "Director Wang",
        "decision_maker",
    )
    assert visit.objective == "Build the relationship"
    assert visit.customer_action == "Director Wang agrees to a one-month trial"
    assert (visit.territory, visit.lead, visit.opening, visit.strategy) == (
        "ours",
        "even",
        "D",
        "divide",
    )
    assert len(visit.questions) == 4 and visit.questions[-1] == "Who signs off?"
    assert visit.objections == [
        {"type": "no_budget", "answer": "Phase the payments over the year"},
        {"type": "price", "answer": "Compare the five-year cost, not the sticker price"},
    ]
    assert visit.proof == ["reference_customers", "site_visit"]
    assert visit.next_hook == "Invite them to see the Nanjing site"
    with Session(database) as session:
        account = session.exec(select(Account)).one()
        assert (account.industry, account.territory, account.lead, account.opening) == (
            "manufacturing",
            "ours",
            "even",
            "D",
        )
        change = session.exec(select(AccountChange)).one()
        assert (change.field_name, change.old_value, change.new_value) == ("opening", None, "D")
        # The reminders area sends the brief before the visit and asks how it went after.
        reminders = session.exec(select(Reminder).where(Reminder.visit_id == visit.id)).all()
        assert sorted(reminder.kind for reminder in reminders) == ["visit_brief", "visit_debrief"]


def test_full_visit_in_chinese_by_typing_with_a_known_contact(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine, language="zh")
    account_id = add_account(
        database, "华信钢铁", industry="telecom", contacts=(("王主任", "decision_maker"),)
    )
    add_account(database, "南方物流")
    chat.say("/visit")
    assert "这次拜访哪个客户" in chat.text
    chat.say("华信钢铁")
    chat.say("下周二上午十点半")
    assert "2026年12月1日" in chat.text and "10:30" in chat.text
    chat.say("对")
    assert "王主任" in chat.labels()
    chat.say("王主任")  # typed: matches the contact's button
    assert "王主任（决策者）最关心" in chat.text
    chat.say("王主任同意安排信息中心做一次技术交流")  # names an action: no follow-up
    assert "开局判断" in chat.text
    chat.say("对手地盘")
    chat.say("我方落后")
    assert "开局位置 <b>C</b> · 正常开局" in chat.text
    assert "建议策略：拖延等待" in chat.text
    chat.say("迂回侧击")  # not the suggestion
    # Questions written for the account's industry come first.
    assert "手机话费" in chat.text.split("<b>P1</b>")[0]
    chat.say("S2 P2 N1")
    chat.say("/skip")
    chat.say("1 5")
    assert "第 1 条（共 2 条）：<b>不需要</b>" in chat.text
    chat.say("先找出一个他们没说出口的小问题")
    chat.say("帮他算全生命周期成本")
    chat.say("2")
    chat.say("下次带检测报告来，顺便约技术交流的时间")
    assert "拜访简报：华信钢铁" in chat.text
    assert "希望客户同意" not in chat.text

    [visit] = visits(database)
    assert visit.account_id == account_id and visit.contact_id is not None
    assert (visit.contact_name, visit.contact_role) == ("王主任", "decision_maker")
    assert visit.customer_action is None
    assert visit.planned_at == datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    assert (visit.opening, visit.strategy) == ("C", "flanking")
    assert visit.questions[0].startswith("单位员工的手机话费")
    assert [item["type"] for item in visit.objections] == ["no_need", "price"]
    assert visit.proof == ["test_reports"]


@pytest.mark.parametrize(
    ("territory", "lead", "letter", "opening_class", "strategy", "strategy_id"),
    [
        ("Our territory", "We lead", "G", "Normal opening", "Head-on", "head_on"),
        ("Neutral ground", "Even", "E", "Normal opening", "Flanking", "flanking"),
        ("Their territory", "Even", "F", "Problem opening", "Flanking", "flanking"),
        ("Neutral ground", "We trail", "B", "Normal opening", "Flanking", "flanking"),
    ],
)
def test_opening_grid_gives_letter_class_move_and_strategy(
    engine: Engine,
    database: Database,
    territory: str,
    lead: str,
    letter: str,
    opening_class: str,
    strategy: str,
    strategy_id: str,
) -> None:
    chat = rep(engine)
    add_account(database, "Huaxin Steel")
    to_territory(chat)
    chat.press(territory)
    chat.press(lead)
    assert f"Opening position <b>{letter}</b> · {opening_class}" in chat.text
    assert "Recommended move:" in chat.text
    assert f"Suggested strategy: {strategy}." in chat.text
    assert f"⭐ {strategy}" in chat.labels()
    chat.press("⭐")
    skip_to_end(chat)
    [visit] = visits(database)
    assert (visit.opening, visit.strategy) == (letter, strategy_id)


@pytest.mark.parametrize(
    ("territory", "lead", "letter"),
    [
        ("Neutral ground", "We lead", "H"),
        ("Our territory", "Even", "D"),
        ("Our territory", "We trail", "A"),
        ("Their territory", "We lead", "I"),
    ],
)
def test_cells_without_a_first_strategy_suggest_none_and_the_strategy_can_be_skipped(
    engine: Engine, database: Database, territory: str, lead: str, letter: str
) -> None:
    chat = rep(engine)
    add_account(database, "Huaxin Steel")
    to_territory(chat)
    chat.press(territory)
    chat.press(lead)
    assert f"No classic strategy is the first move in {letter}" in chat.text
    assert "Suggested strategy" not in chat.text
    assert not any("⭐" in label for label in chat.labels())
    chat.say("/skip")
    skip_to_end(chat)
    [visit] = visits(database)
    assert (visit.opening, visit.strategy) == (letter, None)
    assert "Strategy:" not in chat.text


# ----- coaching branch, back, skip, cancel ---------------------------------------------


def test_rewriting_a_vague_objective_drops_the_follow_up(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    add_account(database, "Huaxin Steel")
    to_objective(chat)
    chat.say("Introduce the product")
    assert "agree to do" in chat.text
    chat.say("/back")
    assert "What is the objective of this visit?" in chat.text
    chat.say("Director Wang agrees to arrange a site visit")
    assert "Opening position." in chat.text or "whose territory" in chat.text
    chat.press("Neutral ground")
    chat.press("Even")
    chat.press("⭐")
    skip_to_end(chat)
    [visit] = visits(database)
    assert visit.objective == "Director Wang agrees to arrange a site visit"
    assert visit.customer_action is None
    assert (visit.questions, visit.objections, visit.proof, visit.next_hook) == ([], [], [], None)


def test_back_walks_through_each_prepared_answer(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    add_account(database, "Huaxin Steel")
    to_territory(chat)
    chat.press("Neutral ground")
    chat.press("Even")
    chat.press("⭐")
    chat.say("/skip")  # questions
    chat.say("/skip")  # own questions
    chat.say("3 4")
    chat.say("first try")
    assert "Objection 2 of 2" in chat.text
    chat.say("/back")
    assert "Objection 1 of 2: <b>No budget</b>" in chat.text
    chat.say("Build the ROI case with them")
    chat.say("Offer a reference call")
    assert "Which proof" in chat.text
    chat.say("/back")
    assert "Objection 2 of 2: <b>No trust</b>" in chat.text
    chat.say("Offer a reference call and a site visit")
    chat.say("/skip")
    chat.say("/skip")
    [visit] = visits(database)
    assert visit.objections == [
        {"type": "no_budget", "answer": "Build the ROI case with them"},
        {"type": "no_trust", "answer": "Offer a reference call and a site visit"},
    ]


def test_back_skip_and_cancel(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    add_account(database, "Huaxin Steel")
    chat.say("/visit")
    chat.say("/back")
    assert "nothing to go back to" in chat.text
    chat.press("Huaxin Steel")
    chat.say("/skip")
    assert "can't be skipped" in chat.text and "When is the visit?" in chat.text
    chat.say("tomorrow 3pm")
    chat.press("Yes")
    chat.press("Back")
    assert "When is the visit?" in chat.text
    chat.say("Friday 10am")
    chat.press("Yes")
    chat.press("Cancel")
    assert "Cancelled" in chat.text
    assert visits(database) == []
    chat.say("/cancel")
    assert "nothing to cancel" in chat.text


# ----- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("31/02", "no such date or time as “31/02”"),
        ("下下下周八", "no such date or time as “下下下周八”"),
        ("", "couldn't read that as a date"),
        ("whenever", "couldn't read that as a date"),
    ],
)
def test_unreadable_dates_are_asked_again(
    engine: Engine, database: Database, typed: str, said: str
) -> None:
    chat = rep(engine)
    add_account(database, "Huaxin Steel")
    chat.say("/visit Huaxin Steel")
    chat.say(typed)
    assert said in chat.text
    assert "When is the visit?" in chat.text


def test_a_past_time_is_refused_gently(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    add_account(database, "Huaxin Steel")
    chat.say("/visit Huaxin Steel")
    chat.say("yesterday 3pm")  # refused before any confirmation is asked
    assert "already passed" in chat.text and "When is the visit?" in chat.text
    chat.say("in 2 hours")  # still ahead: accepted
    chat.press("Yes")
    assert "Who will you meet?" in chat.text


def test_overlong_text_stickers_and_empty_answers(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    add_account(database, "Huaxin Steel")
    chat.say("/visit Huaxin Steel")
    chat.say("x" * 5000)
    assert "too long" in chat.text and "When is the visit?" in chat.text
    to_objective(chat)
    chat.send(Incoming.unsupported("sticker"))
    assert "typed answer" in chat.text and "objective of this visit" in chat.text
    chat.say("   ")
    assert "didn't get an answer" in chat.text
    chat.say("y" * 5000)
    assert "under 300 characters" in chat.text
    assert visits(database) == []


def test_a_stale_button_is_ignored(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    add_account(database, "Huaxin Steel")
    to_territory(chat)
    old = chat.button("Our territory")
    chat.press("Their territory")
    chat.send(Incoming.pressed(old))
    assert "older message" in chat.text and "who leads on this project" in chat.text
    chat.press("We trail")
    assert "<b>C</b>" in chat.text


def test_another_reps_account_and_contact_ids_are_refused(
    engine: Engine, database: Database
) -> None:
    rep(engine, user_id="2002")
    add_account(database, "Rival Co", user_id="2002", contacts=(("Secret Person", "buyer"),))
    chat = rep(engine)
    add_account(database, "Huaxin Steel", contacts=(("Director Wang", "decision_maker"),))
    chat.say("/visit")
    forged = chat.button("Huaxin Steel").rsplit(":", 1)[0] + ":a1"
    chat.send(Incoming.pressed(forged))  # a1 is another rep's account
    assert "older message" in chat.text and "Rival Co" not in chat.text
    chat.say("a1")  # typed by hand
    assert "isn't one of your accounts" in chat.text and "Rival Co" not in chat.text
    chat.press("Huaxin Steel")
    chat.say("tomorrow 3pm")
    chat.press("Yes")
    forged = chat.button("Director Wang").rsplit(":", 1)[0] + ":c1"
    chat.send(Incoming.pressed(forged))  # c1 is the other rep's contact
    assert "Secret Person" not in chat.text and "Who will you meet?" in chat.text
    chat.say("c1")
    assert "isn't one of this account's contacts" in chat.text


def test_the_visit_resumes_after_a_restart(database: Database) -> None:
    first = Engine(database, dialogs=DIALOGS, commands=COMMANDS, clock=lambda: FIXED_NOW)
    chat = rep(first)
    add_account(database, "Huaxin Steel")
    to_territory(chat)
    chat.press("Our territory")

    second = Engine(
        database, dialogs=DIALOGS, commands=COMMANDS, actions=ACTIONS, clock=lambda: FIXED_NOW
    )
    chat.engine = second
    chat.send(None)  # type: ignore[arg-type]
    assert "who leads on this project" in chat.text
    chat.press("We lead")
    assert "<b>G</b>" in chat.text


def test_the_brief_stays_in_one_message_with_every_answer_at_its_longest(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    add_account(database, "H" * 120)
    chat.say("/visit " + "H" * 120)
    chat.say("tomorrow 3pm")
    chat.press("Yes")
    chat.say("N" * 80)
    chat.press("Expert")
    chat.say("Build the relationship " + "o" * 270)
    chat.say("They agree to " + "a" * 280)
    chat.press("Neutral ground")
    chat.press("Even")
    chat.press("⭐")
    chat.say(" ".join(f"{stage}{n}" for stage in "SPIN" for n in (1, 2, 3)))
    chat.say("\n".join(f"{n}. " + "q" * 95 for n in range(10)))
    chat.say(" ".join(str(n) for n in range(1, 11)))
    for _ in range(10):
        assert "Objection" in chat.text
        chat.say("<b>&" + "r" * 290)
    chat.say("1 2 3 4 5 6 7")
    chat.say("h" * 300)
    assert "Visit brief" in chat.text
    assert len(chat.replies) == 1 and len(chat.text) < 4096
    assert "&lt;b&gt;&amp;" in chat.text  # typed text is escaped
    [visit] = visits(database)
    assert len(visit.questions) == 22 and len(visit.objections) == 10


# ----- /brief ----------------------------------------------------------------------------


def test_brief_without_visits_points_to_visit(engine: Engine) -> None:
    chat = rep(engine)
    chat.say("/brief")
    assert "no upcoming visits" in chat.text and "/visit" in chat.text


def test_brief_shows_the_only_upcoming_visit(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    account_id = add_account(database, "Huaxin Steel")
    add_visit(database, account_id, FIXED_NOW - timedelta(days=2), objective="Long gone")
    add_visit(database, account_id, FIXED_NOW - timedelta(hours=1), objective="In the lobby")
    add_visit(database, account_id, FIXED_NOW + timedelta(days=1), status="cancelled")
    chat.say("/brief")
    assert "Visit brief: Huaxin Steel" in chat.text and "In the lobby" in chat.text
    assert "Saved as planned" not in chat.text


def test_brief_offers_a_choice_of_several_and_stays_private(
    engine: Engine, database: Database
) -> None:
    owner = rep(engine)
    huaxin = add_account(database, "Huaxin Steel")
    nanfang = add_account(database, "Nanfang Logistics")
    add_visit(database, huaxin, FIXED_NOW + timedelta(days=1), objective="Huaxin trial")
    add_visit(database, nanfang, FIXED_NOW + timedelta(days=2), objective="Nanfang tender")
    owner.say("/brief")
    assert "several visits" in owner.text
    assert "Huaxin Steel · Tue 24 Nov 2026, 17:00" in owner.labels()
    owner.press("Nanfang Logistics")
    assert "Visit brief: Nanfang Logistics" in owner.text and "Nanfang tender" in owner.text

    nosy = rep(engine, user_id="3003")
    own = add_account(database, "Own Co", user_id="3003")
    nosy.say("/brief")
    assert "no upcoming visits" in nosy.text
    nosy.say("/brief 1")  # the owner's visit id, typed by hand
    assert "can't find that visit" in nosy.text and "Huaxin" not in nosy.text
    add_visit(database, own, FIXED_NOW + timedelta(days=1), objective="Own one")
    add_visit(database, own, FIXED_NOW + timedelta(days=3), objective="Own two")
    nosy.say("/brief")
    forged = nosy.button("Own Co").rsplit(":", 1)[0] + ":v1"
    nosy.send(Incoming.pressed(forged))
    assert "Huaxin" not in nosy.text and "older message" in nosy.text
    nosy.say("v1")
    assert "Huaxin" not in nosy.text
    nosy.say("/brief 3")
    assert "Own one" in nosy.text


# ----- a visit planned closer than the brief lead time ---------------------------------------


def test_a_visit_inside_the_brief_lead_time_gets_its_brief_once_and_not_late(
    engine: Engine, database: Database
) -> None:
    import asyncio

    from bot.reminders import DispatchConfig, Dispatcher
    from dialogs.core.io import Outgoing

    chat = rep(engine)
    add_account(database, "Huaxin Steel")
    chat.say("/visit Huaxin Steel")
    chat.say("in 30 minutes")  # the brief's lead time is 60 minutes
    chat.press("Yes")
    chat.say("Director Wang")
    chat.press("Decision maker")
    chat.say("Director Wang agrees to a one-month trial in workshop 2")
    chat.press("Neutral ground")
    chat.press("Even")
    chat.press("⭐")
    skip_to_end(chat)
    assert chat.text.count("Visit brief: Huaxin Steel") == 1  # the brief, now
    delivered: list[Outgoing] = []

    async def deliver(_user: User, outgoing: Outgoing) -> None:
        delivered.append(outgoing)

    dispatcher = Dispatcher(engine, "telegram", deliver, DispatchConfig(per_chat_interval=0.0))
    asyncio.run(dispatcher.run_once())
    assert delivered == []  # no second brief, and no "Late: this reminder was due …"
    with Session(database) as session:
        kinds = {r.kind: r.status for r in session.exec(select(Reminder))}
    assert kinds.get("visit_brief") in (None, "cancelled")
    assert kinds["visit_debrief"] == "pending"  # "How did it go?" still comes after
