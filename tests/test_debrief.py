"""`/debrief`: the review flow, the coaching card, what is stored, and refusing bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine as Database
from sqlmodel import Session, SQLModel, select

from dialogs.catalog import ACTIONS, COMMANDS, DIALOGS
from dialogs.core.callbacks import encode_action
from dialogs.core.engine import Engine
from dialogs.core.io import Incoming
from dialogs.field.coaching_card import (
    drills_by_objection,
    split_objections,
    strongest,
    suggest_drill,
    weakest,
)
from dialogs.field.reminder_messages import REMINDER
from playbooks.loader import load_playbooks
from playbooks.locales import load_locale
from storage.models import (
    Account,
    AccountChange,
    Contact,
    Debrief,
    FollowUp,
    ObjectionLog,
    Opportunity,
    OpportunityChange,
    Reminder,
    User,
    Visit,
)
from storage.opportunities import add_opportunity
from storage.reminders import schedule_visit_reminders
from tests.conftest import FIXED_NOW
from tests.helpers import Chat

Row = TypeVar("Row", bound=SQLModel)
FORM_ORDER = ["confidence", "substance", "structure", "clarity", "attitude"]
COMMITMENT = "Director Wang agreed to send the budget calendar by Friday"


# ----- helpers -------------------------------------------------------------------------


def rows(database: Database, table: type[Row]) -> list[Row]:
    with Session(database) as session:
        found = list(session.exec(select(table)))
        for row in found:
            session.expunge(row)
        return found


def rep(engine: Engine, user_id: str = "1001", language: str = "en") -> Chat:
    chat = Chat(engine, user_id=user_id, language=language)
    if language == "zh":
        chat.onboard(role="销售代表", zone="上海")
    else:
        chat.onboard(zone="Shanghai")
    return chat


def plan_visit(
    database: Database,
    *,
    user_id: str = "1001",
    planned_at: datetime = FIXED_NOW - timedelta(hours=3),  # 14:00 in Shanghai
    account_name: str = "Huaxin Steel",
    **fields: Any,
) -> int:
    """A planned visit, with its account, a contact and reminders, written to the database."""
    with Session(database) as session:
        owner = session.exec(select(User).where(User.platform_user_id == user_id)).one()
        account = Account(
            owner_id=owner.id or 0,
            name=account_name,
            stage="potential",
            territory="theirs",
            lead="trail",
            opening="C",
        )
        session.add(account)
        session.flush()
        session.add(
            Contact(account_id=account.id or 0, name="Director Wang", role="decision_maker")
        )
        visit = Visit(
            owner_id=owner.id or 0,
            account_id=account.id or 0,
            planned_at=planned_at,
            objective="Director Wang agrees to a one-month trial",
            strategy="delay",
        )
        for name, value in fields.items():
            setattr(visit, name, value)
        session.add(visit)
        session.flush()
        schedule_visit_reminders(session, visit, owner)
        session.commit()
        return visit.id or 0


def review_until_outcome(chat: Chat) -> None:
    """Feelings, objective (kept), plan, what happened and why: up to the outcome question."""
    chat.say("Tense at first, better once we got to his numbers.")
    chat.press("Keep it")
    chat.say("Show the five-year cost comparison, then ask for the trial.")
    chat.say("He liked the numbers but said the budget is decided in January.")
    chat.say("He can't commit money before the budget meeting.")


def rate(chat: Chat, *scores: int) -> None:
    for score in scores:
        chat.press(f"{score} ·")


# ----- the planned visit, in English -----------------------------------------------------


def test_a_planned_visit_is_debriefed_in_english(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    visit_id = plan_visit(database, objections=[{"type": "price", "answer": "Five-year cost"}])
    chat.say("/debrief")
    assert "Which visit are we reviewing?" in chat.text
    chat.press("Huaxin Steel · Mon 23 Nov 2026, 14:00")
    assert "How do you feel the visit went?" in chat.text and "Huaxin Steel" in chat.text
    chat.say("Tense at first, better once we got to his numbers.")
    assert "“Director Wang agrees to a one-month trial”" in chat.text  # the plan, prefilled
    chat.press("Keep it")
    assert "What was your plan" in chat.text and "strategy was Delay" in chat.text
    chat.say("Show the five-year cost comparison, then ask for the trial.")
    assert "What actually happened?" in chat.text
    chat.say("He agreed to a trial with two of his engineers.")
    assert "Why do you think the customer said that?" in chat.text
    chat.say("The engineers complained about downtime last month.")
    outcome_prompt = chat.text
    for line in ("<b>Order</b>:", "<b>Advance</b>:", "<b>Continuation</b>:", "<b>No sale</b>:"):
        assert line in outcome_prompt  # each outcome explained in one line
    chat.press("Advance")
    assert "What do you think went best?" in chat.text
    chat.say("Using his own downtime figures.")
    assert "what would you do differently?" in chat.text
    chat.say("Bring the engineers in earlier.")
    assert "self-rating on 5 items" in chat.text and "1/5 · Confidence" in chat.text
    assert chat.labels()[:3] == ["7 · Outstanding", "5 · Satisfactory", "3 · Needs work"]
    rate(chat, 7, 5, 5, 3, 5)
    assert "Has it moved in your funnel?" in chat.text and "Potential customer" in chat.text
    chat.press("Target customer")
    assert "Now: <b>C</b>" in chat.text
    chat.press("Neutral ground")
    chat.press("We lead")  # neutral × we lead = H
    assert "Did anyone's stance toward us change" in chat.text
    chat.press("Director Wang")
    assert "(until now: Neutral)" in chat.text
    chat.press("Supporter")
    assert "What is the next step" in chat.text and "committed to nothing" not in chat.text
    chat.say("Send the trial agreement to Director Wang")
    chat.say("tomorrow 3pm")
    assert "Tue 24 Nov 2026, 15:00" in chat.text
    chat.press("Yes")

    card = chat.text
    assert "Coaching card · Huaxin Steel" in card and "<b>Advance</b>" in card
    assert "Your strength:</b> Confidence (7)" in card
    assert "One thing to work on:</b> Clarity (3)" in card
    # The weakest item points to its drill before the objection the plan expected.
    assert "Presenting the full solution to the general manager" in card
    assert "Funnel stage: Potential customer → <b>Target customer</b>" in card
    assert "Opening position: C → <b>H</b>" in card
    assert "Director Wang: Neutral → <b>Supporter</b>" in card
    assert "by <b>Tue 24 Nov 2026, 15:00</b>" in card

    [debrief] = rows(database, Debrief)
    assert debrief.visit_id == visit_id and debrief.outcome == "advance"
    assert debrief.judged_outcome == "advance"  # "He agreed to a trial": a commitment
    assert debrief.objective == "Director Wang agrees to a one-month trial"
    assert debrief.feelings == "Tense at first, better once we got to his numbers."
    assert debrief.why_customer == "The engineers complained about downtime last month."
    assert debrief.improve == "Bring the engineers in earlier."
    assert debrief.ratings == dict(zip(FORM_ORDER, (7, 5, 5, 3, 5), strict=True))
    due = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # 15:00 in Shanghai
    assert debrief.next_step_at == due
    [follow_up] = rows(database, FollowUp)
    assert (follow_up.due_at, follow_up.status, follow_up.debrief_id) == (due, "open", debrief.id)
    assert follow_up.account_id == debrief.account_id and follow_up.owner_id == debrief.owner_id
    assert follow_up.text == "Send the trial agreement to Director Wang"
    [visit] = rows(database, Visit)
    assert (visit.status, visit.done_at) == ("done", FIXED_NOW)
    reminders = {reminder.kind: reminder for reminder in rows(database, Reminder)}
    assert reminders["visit_debrief"].status == "cancelled"  # no "how did it go?" any more
    assert reminders["follow_up"].due_at == due and reminders["follow_up"].status == "pending"
    [account] = rows(database, Account)
    assert (account.stage, account.territory, account.lead, account.opening) == (
        "target",
        "neutral",
        "lead",
        "H",
    )
    [contact] = rows(database, Contact)
    assert contact.stance == "supporter"
    changes = [(c.field_name, c.old_value, c.new_value) for c in rows(database, AccountChange)]
    assert changes == [
        ("stage", "potential", "target"),
        ("opening", "C", "H"),
        (f"stance:{contact.id}", "neutral", "supporter"),
    ]

    chat.say("/debrief")  # the only planned visit is done: now it is ad hoc
    assert "no planned visits waiting for a debrief" in chat.text


# ----- ad hoc, in Chinese ------------------------------------------------------------------


def test_an_unplanned_visit_is_debriefed_in_chinese(engine: Engine, database: Database) -> None:
    chat = rep(engine, language="zh")
    chat.say("/debrief")
    assert "临时拜访" in chat.text and "你拜访的是哪个客户" in chat.text
    chat.say("华信钢铁")
    chat.say("1")  # industry
    assert "<b>华信钢铁</b>" in chat.text and "你觉得这次拜访整体怎么样？" in chat.text
    chat.say("还行，王总挺客气的。")
    assert "就是这个" not in str(chat.labels())  # nothing planned, nothing to keep
    chat.say("让王总同意试用一个月")
    chat.say("先讲案例，再提试用")
    chat.say("王总说考虑一下")
    chat.say("他需要先和财务商量")
    chat.say("延续")
    assert "客户没有承诺任何行动" in chat.text and "推进" in chat.text
    chat.say("约技术部一起开会评估试用")
    chat.say("案例讲得很清楚")
    assert "下次记得争取这个推进：“约技术部一起开会评估试用”" in chat.text
    chat.say("更早提出具体请求")
    assert "1/5 · 自信" in chat.text
    for _ in range(5):
        chat.say("5")  # all satisfactory: nothing stands out
    assert "这个客户处在销售漏斗的哪个阶段？" in chat.text
    assert "没有变化" not in str(chat.labels())  # a new account has nothing to keep
    chat.say("/skip")
    assert "开局位置是怎样的" in chat.text
    chat.say("/skip")
    assert "客户没有承诺任何行动，所以现在最要紧的是一个具体的下一步" in chat.text
    chat.say("/skip")  # no next step: no date asked, no follow-up
    card = chat.text
    assert "辅导卡片 · 华信钢铁" in card and "<b>延续</b>" in card
    assert "你的长处：</b>案例讲得很清楚" in card  # the rep's own words when no rating stands out
    assert "重点改进一项：</b>更早提出具体请求" in card
    assert "下次争取这个推进：</b>约技术部一起开会评估试用" in card
    # The customer "needs to talk to Finance first": the drill follows what the debrief says.
    assert "向总经理展示整体方案" in card
    assert "还没有设定下一步" in card

    [debrief] = rows(database, Debrief)
    [visit] = rows(database, Visit)
    [account] = rows(database, Account)
    assert (visit.status, visit.planned_at, visit.done_at) == ("done", FIXED_NOW, FIXED_NOW)
    assert (debrief.visit_id, debrief.account_id) == (visit.id, account.id)
    assert (account.name, account.industry) == ("华信钢铁", "manufacturing")
    assert debrief.outcome == "continuation" and debrief.ratings == dict.fromkeys(FORM_ORDER, 5)
    assert debrief.improve == "本可以争取的推进： 约技术部一起开会评估试用\n更早提出具体请求"
    assert (debrief.next_step, debrief.next_step_at) == (None, None)
    assert rows(database, FollowUp) == [] and rows(database, AccountChange) == []


# ----- the continuation branch and the reminder's button ---------------------------------


def test_a_continuation_is_named_plainly_from_the_reminder_button(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    visit_id = plan_visit(database)
    with Session(database) as session:
        reminder = session.exec(select(Reminder).where(Reminder.kind == "visit_debrief")).one()
    chat.send(Incoming.pressed(encode_action(REMINDER, reminder.id or 0, "debrief")))
    assert "Debrief: <b>Huaxin Steel · Mon 23 Nov 2026, 14:00</b>" in chat.text
    review_until_outcome(chat)
    chat.press("Continuation")
    assert "that was a <b>continuation</b>" in chat.text
    assert "<b>the customer committed to nothing</b>" in chat.text
    assert "would have made it an <b>advance</b>" in chat.text
    chat.say("Agree a date for the budget meeting with Finance")
    chat.say("The cost comparison")
    assert "Next time, ask for that advance" in chat.text
    chat.say("Ask for the commitment before leaving")
    chat.say("/skip")  # confidence not rated
    rate(chat, 7, 3, 5, 5)
    chat.press("Unchanged")  # stage
    chat.press("Unchanged")  # opening
    chat.say("/skip")  # nobody's stance changed
    assert "The customer committed to nothing, so a concrete next step matters most" in chat.text
    chat.say("Call Finance about the budget meeting")
    chat.say("/skip")  # a next step without a date: stored, but nothing to remind
    card = chat.text
    assert "The customer committed to nothing yet." in card
    assert "Your strength:</b> Substance (7)" in card
    assert "One thing to work on:</b> Structure (3)" in card
    # The debrief says the budget is decided in January: that objection's drill comes before
    # the weakest item's (structure: the introductory visit).
    assert "Objection: no budget" in card and "The introductory visit" not in card
    assert "(no date, so no reminder)" in card and "Account updated" not in card
    [debrief] = rows(database, Debrief)
    assert debrief.visit_id == visit_id and debrief.outcome == "continuation"
    assert debrief.ratings == {"substance": 7, "structure": 3, "clarity": 5, "attitude": 5}
    assert debrief.improve == (
        "An advance would have been: Agree a date for the budget meeting with Finance\n"
        "Ask for the commitment before leaving"
    )
    assert (debrief.next_step, debrief.next_step_at) == (
        "Call Finance about the budget meeting",
        None,
    )
    assert rows(database, FollowUp) == [] and rows(database, AccountChange) == []


def test_an_objection_met_in_the_visit_picks_the_drill(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    visit_id = plan_visit(database)
    with Session(database) as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None
        session.add(
            ObjectionLog(
                owner_id=visit.owner_id,
                account_id=visit.account_id,
                objection_type="no_budget",
                outcome="failed",
                created_at=FIXED_NOW - timedelta(hours=2),
            )
        )
        session.commit()
    chat.say(f"/debrief visit_{visit_id}")
    review_until_outcome(chat)
    chat.press("No sale")
    chat.say("The numbers")
    chat.say("Find out about the budget cycle first")
    rate(chat, 7, 5, 5, 3, 5)
    chat.say("/skip")
    chat.say("/skip")
    chat.say("/skip")
    assert "Even after a no, decide what happens next" in chat.text
    chat.say("/skip")
    assert "Objection: no budget" in chat.text  # the unhandled objection beats the weak item


# ----- back, skip, cancel ------------------------------------------------------------------


def test_back_skip_and_cancel(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    plan_visit(database)
    chat.say("/debrief")
    chat.press("Huaxin Steel")
    chat.say("Fine")
    chat.say("/skip")  # the objective is required
    assert "can't be skipped" in chat.text and "What was your objective" in chat.text
    chat.say("/back")
    assert "How do you feel the visit went?" in chat.text
    chat.say("Better than I expected")
    chat.say("Win a trial")  # typed instead of keeping the plan's objective
    chat.press("◀ Back")
    assert "What was your objective" in chat.text
    chat.press("Keep it")
    for _ in range(3):  # plan → objective → feelings → which visit
        chat.say("/back")
    chat.press("📝 No planned visit")  # changed their mind: ad hoc after all
    assert "Which account did you visit?" in chat.text
    chat.say("/back")
    chat.press("Huaxin Steel")
    assert "How do you feel the visit went?" in chat.text
    chat.say("/cancel")
    assert "Cancelled" in chat.text
    assert rows(database, Debrief) == [] and rows(database, AccountChange) == []
    [visit] = rows(database, Visit)
    assert visit.status == "planned"
    chat.say("/debrief")  # still waiting for its debrief
    assert "Huaxin Steel · Mon 23 Nov 2026, 14:00" in str(chat.labels())


def test_the_debrief_resumes_after_a_restart(database: Database) -> None:
    first = Engine(database, dialogs=DIALOGS, commands=COMMANDS, clock=lambda: FIXED_NOW)
    chat = rep(first)
    plan_visit(database)
    chat.say("/debrief")
    chat.press("Huaxin Steel")
    review_until_outcome(chat)

    second = Engine(
        database, dialogs=DIALOGS, commands=COMMANDS, actions=ACTIONS, clock=lambda: FIXED_NOW
    )
    chat.engine = second
    chat.send(None)  # type: ignore[arg-type]
    assert "How did the call end?" in chat.text
    chat.press("Order")
    assert "What do you think went best?" in chat.text


# ----- bad input ---------------------------------------------------------------------------


def to_next_step_date(chat: Chat) -> None:
    chat.say("/debrief")
    chat.press("Huaxin Steel")
    review_until_outcome(chat)
    chat.press("Advance")
    chat.say(COMMITMENT)  # what happened names none: the coach asks for it
    chat.say("The numbers")
    chat.say("Less talking")
    rate(chat, 5, 5, 5, 5, 5)
    chat.press("Unchanged")
    chat.press("Unchanged")
    chat.say("/skip")
    chat.say("Trial kick-off call")
    assert "By when?" in chat.text


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
    plan_visit(database)
    to_next_step_date(chat)
    chat.say(typed)
    assert said in chat.text and "By when?" in chat.text
    assert rows(database, Debrief) == []


def test_a_past_date_for_the_next_step_is_refused(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    plan_visit(database)
    to_next_step_date(chat)
    chat.say("yesterday 3pm")
    assert "already passed" in chat.text and "By when?" in chat.text
    chat.say("x" * 5000)
    assert "too long" in chat.text and "By when?" in chat.text
    chat.say("Friday 9am")
    chat.press("Yes")
    [follow_up] = rows(database, FollowUp)
    assert follow_up.due_at == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


def test_overlong_text_stickers_empty_answers_and_stale_buttons(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    plan_visit(database)
    chat.say("/debrief")
    chat.press("Huaxin Steel")
    chat.say("x" * 5000)
    assert "too long" in chat.text and "How do you feel the visit went?" in chat.text
    chat.send(Incoming.unsupported("sticker"))
    assert "typed answer" in chat.text and "How do you feel the visit went?" in chat.text
    chat.say("   ")
    assert "didn't get an answer" in chat.text
    chat.say("Fine")
    review_until_outcome_rest(chat)
    chat.say("maybe")  # not an outcome
    assert "Please pick one of the buttons" in chat.text and "How did the call end?" in chat.text
    chat.press("Advance")
    chat.say(COMMITMENT)
    chat.say("Numbers")
    chat.say("Listen more")
    old = chat.button("7 ·")
    chat.say("9")  # not on the 7 / 5 / 3 scale
    assert "Please pick one of the buttons" in chat.text and "1/5 · Confidence" in chat.text
    chat.press("5 ·")
    chat.send(Incoming.pressed(old))  # the first rating's button, pressed again later
    assert "older message" in chat.text and "2/5 · Substance" in chat.text
    assert rows(database, Debrief) == []


def review_until_outcome_rest(chat: Chat) -> None:
    chat.press("Keep it")
    chat.say("Plan")
    chat.say("Happened")
    chat.say("Why")


def test_visits_not_waiting_for_a_debrief_are_not_offered(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    rep(engine, user_id="2002")
    plan_visit(database, account_name="Later Today Co", planned_at=FIXED_NOW + timedelta(hours=6))
    plan_visit(database, account_name="Tomorrow Co", planned_at=FIXED_NOW + timedelta(hours=8))
    plan_visit(database, account_name="Cancelled Co", status="cancelled")
    plan_visit(database, account_name="Long Ago Co", planned_at=FIXED_NOW - timedelta(days=20))
    plan_visit(database, user_id="2002", account_name="Rival Co")
    chat.say("/debrief")
    labels = str(chat.labels())
    assert "Later Today Co" in labels  # 23:00 local: still today
    for absent in ("Tomorrow Co", "Cancelled Co", "Long Ago Co", "Rival Co"):
        assert absent not in labels


def test_forged_and_foreign_visit_ids_are_refused(engine: Engine, database: Database) -> None:
    other = rep(engine, user_id="2002")
    foreign = plan_visit(database, user_id="2002", account_name="Rival Co")
    chat = rep(engine)
    own = plan_visit(database)
    chat.say(f"/debrief visit_{foreign}")
    assert "isn't one of yours waiting for a debrief" in chat.text and "Rival Co" not in chat.text
    chat.say("/debrief")
    forged = chat.button("Huaxin Steel").rsplit(":", 1)[0] + f":v{foreign}"
    chat.send(Incoming.pressed(forged))
    assert "older message" in chat.text and "Rival Co" not in chat.text
    chat.say(f"v{foreign}")  # typed by hand
    assert "Please pick one of the buttons" in chat.text and "Rival Co" not in chat.text
    chat.press("Huaxin Steel")
    review_until_outcome(chat)
    chat.press("Advance")
    chat.say(COMMITMENT)  # what happened names none: the coach asks for it
    chat.say("The numbers")
    chat.say("Less talking")
    rate(chat, 5, 5, 5, 5, 5)
    chat.press("Unchanged")
    chat.press("Unchanged")
    assert "Did anyone's stance toward us change" in chat.text
    with Session(database) as session:
        rival = session.exec(select(Contact).join(Account).where(Account.name == "Rival Co")).one()
    forged = chat.button("Director Wang").rsplit(":", 1)[0] + f":c{rival.id}"
    chat.send(Incoming.pressed(forged))  # the other rep's contact
    assert "older message" in chat.text and "stance toward us change" in chat.text
    chat.say(f"c{rival.id}")
    assert "Please pick one of the buttons" in chat.text
    chat.say("/cancel")
    other.say(f"/debrief visit_{own}")
    assert "isn't one of yours" in other.text
    assert rows(database, Debrief) == []
    assert [contact.stance for contact in rows(database, Contact)] == ["neutral", "neutral"]


def test_a_debriefed_visit_cannot_be_debriefed_again(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    visit_id = plan_visit(database)
    with Session(database) as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None
        session.add(Debrief(owner_id=visit.owner_id, visit_id=visit_id, outcome="order"))
        session.commit()
    chat.say(f"/debrief visit_{visit_id}")
    assert "may already have one" in chat.text


# ----- the coaching card's choices ---------------------------------------------------------


def test_strongest_and_weakest_follow_the_form_order_on_ties() -> None:
    ratings = {"confidence": 5, "substance": 7, "structure": 3, "clarity": 7, "attitude": 3}
    assert strongest(ratings, FORM_ORDER) == "substance"
    assert weakest(ratings, FORM_ORDER) == "structure"


def test_nothing_stands_out_when_every_rating_is_the_same() -> None:
    assert strongest({}, FORM_ORDER) is None and weakest({}, FORM_ORDER) is None
    same = dict.fromkeys(FORM_ORDER, 5)
    assert strongest(same, FORM_ORDER) is None and weakest(same, FORM_ORDER) is None
    assert strongest({"attitude": 7, "clarity": 3}, FORM_ORDER) == "attitude"


def test_objections_are_split_by_how_they_went() -> None:
    met = [("price", "worked"), ("no_budget", "failed"), ("price", "failed"), ("too_busy", None)]
    assert split_objections(met) == (["no_budget", "too_busy"], ["price"])


def test_drill_choice_order() -> None:
    pb = load_playbooks()
    common: dict[str, Any] = {
        "objection_drills": drills_by_objection(
            {key: item.drill for key, item in pb.objections.items()},
            {key: drill.objections for key, drill in pb.drills.items()},
        ),
        "item_drills": {"clarity": "solution-presentation-gm"},
        "known_drills": pb.drills,
        "default": "needs-probing",
    }
    unhandled = [("no_trust", "partly")]
    assert (
        suggest_drill(met=unhandled, heard=["price"], weak_item="clarity", **common)
        == "objection-no-trust"
    )
    # What the debrief says comes before the weakest item…
    assert (
        suggest_drill(met=[], heard=["price"], weak_item="clarity", **common)
        == "objection-no-budget"
    )
    handled = [("no_trust", "worked")]
    assert (
        suggest_drill(met=handled, heard=[], weak_item="clarity", **common)
        == "solution-presentation-gm"
    )
    # …an objection handled well does not, and the plan's expectations are no evidence.
    assert (
        suggest_drill(met=handled, heard=["no_trust"], weak_item="clarity", **common)
        == "solution-presentation-gm"
    )
    assert suggest_drill(met=handled, heard=[], weak_item=None, **common) == "objection-no-trust"
    assert suggest_drill(met=[], heard=[], weak_item="unknown", **common) == "needs-probing"
    assert suggest_drill(met=[], heard=[], weak_item=None, **{**common, "default": "x"}) is None


def test_an_objection_with_no_drill_for_the_industry_takes_the_next_that_practises_it() -> None:
    pb = load_playbooks()
    table = drills_by_objection(
        {key: item.drill for key, item in pb.objections.items()},
        {key: drill.objections for key, drill in pb.drills.items()},
    )
    assert table["has_supplier"][0] == "insurance-has-employer-cover"
    common: dict[str, Any] = {
        "met": [],
        "heard": ["has_supplier"],
        "weak_item": "clarity",
        "objection_drills": table,
        "item_drills": {"clarity": "solution-presentation-gm"},
        "default": "needs-probing",
    }
    everything = list(pb.drills)
    healthcare = [key for key in pb.drills if pb.drill_suits(key, {"healthcare"})]
    assert suggest_drill(known_drills=everything, **common) == "insurance-has-employer-cover"
    assert suggest_drill(known_drills=healthcare, **common) == "needs-probing"
    assert table["bad_experience"][:2] == ["insurance-bad-agent-experience", "objection-no-trust"]


def test_the_drill_table_in_the_locales_names_real_drills() -> None:
    pb = load_playbooks()
    items = {item.id for item in pb.self_rating.items}
    for language in ("en", "zh"):
        strings = load_locale(language)
        prefix = "debrief.drill_for_item."
        table = {
            key[len(prefix) :]: value for key, value in strings.items() if key.startswith(prefix)
        }
        assert set(table) == items
        assert set(table.values()) <= set(pb.drills)
        assert strings["debrief.default_drill"] in pb.drills


# ----- the deal on the account ---------------------------------------------------------------


def add_deal(database: Database, value: int = 1_000_000, stage: str = "potential") -> None:
    """An open deal on the planned visit's account, worth `value` yuan, closing in January."""
    with Session(database) as session:
        account = session.exec(select(Account)).one()
        add_opportunity(
            session,
            account,
            account.owner_id,
            value_minor=value * 100,
            currency="CNY",
            close_month=date(2027, 1, 1),
            stage=stage,
            now=FIXED_NOW - timedelta(days=20),
            won_stage="signed",
        )
        session.commit()


def debrief_until_the_deal(chat: Chat, *, stage: str = "Unchanged") -> None:
    chat.say("/debrief")
    chat.press("Huaxin Steel")
    review_until_outcome(chat)
    chat.press("Continuation")
    chat.say("/skip")  # no commitment
    chat.say("Ask for the budget calendar.")
    chat.say("The cost comparison.")
    chat.say("Ask earlier.")
    rate(chat, 5, 5, 5, 5, 5)
    chat.press(stage)  # the account's funnel stage
    chat.say("/skip")  # the opening position
    chat.say("/skip")  # nobody's stance changed


def test_the_debrief_asks_whether_the_deal_moved_and_records_what_did(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    plan_visit(database)
    add_deal(database)
    debrief_until_the_deal(chat)
    assert "The deal on Huaxin Steel: <b>CN¥1m</b>, <b>Potential customer</b>" in chat.text
    assert "Did anything about it change" in chat.text
    chat.press("Yes")
    chat.press("Target customer")
    chat.say("a lot")  # refused, nothing changes
    assert "couldn't read that amount" in chat.text
    chat.say("¥1,500,000")
    chat.say("last year")
    assert "couldn't read that month" in chat.text or "already over" in chat.text
    chat.say("2027-03")
    assert "What is the next step" in chat.text
    chat.say("/skip")
    card = chat.text
    assert "💰 Deal: stage Potential customer → Target customer" in card
    assert "value CN¥1m → CN¥1.5m" in card and "close month Jan 2027 → Mar 2027" in card
    [deal] = rows(database, Opportunity)
    assert (deal.stage, deal.value_minor, deal.close_month, deal.status) == (
        "target",
        150_000_000,
        date(2027, 3, 1),
        "open",
    )
    assert deal.stage_entered_at.replace(tzinfo=UTC) == FIXED_NOW
    changes = [(c.field_name, c.new_value) for c in rows(database, OpportunityChange)]
    assert changes == [
        ("created", "potential"),
        ("value", "150000000"),
        ("close_month", "2027-03"),
        ("stage", "target"),
    ]


def test_nothing_moved_is_one_answer_and_changes_nothing(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    plan_visit(database)
    add_deal(database)
    debrief_until_the_deal(chat)
    chat.press("No")
    assert "What is the next step" in chat.text
    chat.say("/skip")
    assert "💰 Deal" not in chat.text
    assert [c.field_name for c in rows(database, OpportunityChange)] == ["created"]


def test_a_won_deal_skips_the_close_month_and_counts_this_month(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    plan_visit(database)
    add_deal(database, stage="target")
    debrief_until_the_deal(chat)
    chat.press("Yes")
    chat.press("Signed customer")
    chat.say("/skip")  # the value stays
    assert "What is the next step" in chat.text  # no close month for a won deal
    chat.say("/skip")
    assert "🏆 won" in chat.text
    [deal] = rows(database, Opportunity)
    assert (deal.status, deal.stage, deal.close_month) == ("won", "signed", date(2026, 11, 1))


def test_moving_the_account_in_the_funnel_moves_its_deal(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    plan_visit(database)
    add_deal(database)
    debrief_until_the_deal(chat, stage="Target customer")
    chat.press("No")  # nothing else about the deal
    chat.say("/skip")
    [deal] = rows(database, Opportunity)
    assert deal.stage == "target"
    assert "stage Potential customer → Target customer" in chat.text


def test_a_lost_deal(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    plan_visit(database)
    add_deal(database)
    debrief_until_the_deal(chat)
    chat.press("Yes")
    chat.press("Lost")
    assert "What is the next step" in chat.text  # neither value nor month for a lost deal
    chat.say("/skip")
    [deal] = rows(database, Opportunity)
    assert deal.status == "lost"


def test_an_explicit_unchanged_deal_stage_wins_over_the_accounts_move(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    plan_visit(database)
    add_deal(database)
    debrief_until_the_deal(chat, stage="Target customer")
    chat.press("Yes")
    chat.press("Stage unchanged")
    chat.say("/skip")  # the value stays
    chat.say("2027-02")
    chat.say("/skip")  # no next step
    [deal] = rows(database, Opportunity)
    assert (deal.stage, deal.close_month) == ("potential", date(2027, 2, 1))
    [account] = rows(database, Account)
    assert account.stage == "target"
