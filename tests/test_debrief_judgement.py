"""/debrief judges the rep's outcome and suggests a drill that follows what the debrief says.

An advance needs a concrete customer commitment; without one the coach says plainly it
was a continuation and stores both the rep's claim and its judgement. The drill on the
card follows the objections the debrief's own words name (or those logged for the visit),
among the drills that suit the account's industry, before the weakest self-rated item.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from dialogs.core.engine import Engine
from storage.models import Account, Contact, Debrief, User, Visit
from tests.conftest import FIXED_NOW
from tests.helpers import Chat
from tests.test_debrief import rate, rep, rows


def planned_visit(
    database: Database,
    *,
    industry: str | None = None,
    expected: tuple[str, ...] = (),
    account_name: str = "Huaxin Steel",
) -> int:
    """A visit three hours ago on an account of `industry`, expecting these objections."""
    with Session(database) as session:
        owner = session.exec(select(User).where(User.platform_user_id == "1001")).one()
        account = Account(owner_id=owner.id or 0, name=account_name, industry=industry)
        session.add(account)
        session.flush()
        session.add(
            Contact(account_id=account.id or 0, name="Director Wang", role="decision_maker")
        )
        visit = Visit(
            owner_id=owner.id or 0,
            account_id=account.id or 0,
            planned_at=FIXED_NOW - timedelta(hours=3),
            objective="Director Wang agrees to share the downtime figures",
            objections=[{"type": kind, "answer": "prepared"} for kind in expected],
        )
        session.add(visit)
        session.commit()
        return visit.id or 0


def review(chat: Chat, visit_id: int, happened: str, why: str) -> None:
    """Feelings, objective (kept), plan, what happened and why: up to the outcome."""
    chat.say(f"/debrief visit_{visit_id}")
    chat.say("Friendly. I think it went well.")
    chat.press(chat.labels()[0])  # keep the planned objective
    chat.say("Show the downtime cost, then ask for the figures.")
    chat.say(happened)
    chat.say(why)


def to_card(chat: Chat, *scores: int) -> str:
    """From the self-rating on: rate, leave the account as it is, no next step."""
    rate(chat, *scores)
    for _ in range(3):  # stage, opening, stance
        chat.say("/skip")
    chat.say("/skip")  # next step
    return chat.text


# ----- 5. an advance needs a customer commitment ----------------------------------------------


def test_an_advance_without_a_commitment_is_called_a_continuation(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    visit_id = planned_visit(database)
    review(
        chat,
        visit_id,
        "He said he'd think about sharing the numbers.",
        "He wants to check with his team first.",
    )
    chat.press("Advance")
    assert "who agreed to do what, and by when?" in chat.text
    chat.say("He'll think about sharing the numbers")
    assert "you called it an advance" in chat.text
    assert "is no commitment from the customer, so that was a <b>continuation</b>" in chat.text
    chat.say("Director Wang sends the downtime log by Friday")  # the advance it could have been
    chat.say("He listened")
    chat.say("Ask for the figures before leaving")
    rate(chat, 7, 7, 7, 7, 7)
    for _ in range(3):
        chat.say("/skip")
    assert "The customer committed to nothing, so a concrete next step matters most" in chat.text
    chat.say("/skip")
    card = chat.text
    assert "Outcome: <b>Continuation</b> (you said Advance" in card
    assert "The customer committed to nothing yet." in card and "Self-rating: 35/35." in card
    assert "Next time, ask for the advance:</b> Director Wang sends the downtime log" in card
    [debrief] = rows(database, Debrief)
    assert (debrief.outcome, debrief.judged_outcome) == ("advance", "continuation")


def test_a_named_commitment_keeps_the_advance(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    visit_id = planned_visit(database)
    review(chat, visit_id, "We talked about the downtime cost.", "He saw the cost.")
    chat.press("Advance")
    chat.say("Director Wang agreed to send the downtime log by Friday")
    assert "What do you think went best?" in chat.text  # accepted: no "say it plainly"
    chat.say("The cost sheet")
    chat.say("Less talking")
    card = to_card(chat, 7, 5, 5, 5, 5)
    assert "Outcome: <b>Advance</b>." in card and "you said" not in card
    [debrief] = rows(database, Debrief)
    assert (debrief.outcome, debrief.judged_outcome) == ("advance", "advance")
    assert debrief.happened == (
        "We talked about the downtime cost.\n"
        "Customer commitment, as told: Director Wang agreed to send the downtime log by Friday"
    )


def test_skipping_the_commitment_in_chinese_makes_it_a_continuation(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine, language="zh")
    visit_id = planned_visit(database)
    review(chat, visit_id, "王总说考虑一下要不要给数据", "他还要和团队商量")
    chat.press("推进")
    assert "谁同意在什么时候之前做什么" in chat.text
    chat.say("/skip")
    assert "你认为是推进，但你描述的情况不是客户做出的承诺，所以这是一次<b>延续</b>" in chat.text
    chat.say("王总周五前把停机记录发给我")
    chat.say("算账算得清楚")
    chat.say("早点提出具体请求")
    card = to_card(chat, 5, 5, 5, 5, 5)
    assert "结果：<b>延续</b>（你选的是推进" in card
    [debrief] = rows(database, Debrief)
    assert (debrief.outcome, debrief.judged_outcome) == ("advance", "continuation")


def test_other_outcomes_stand_as_the_rep_gave_them(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    visit_id = planned_visit(database)
    review(chat, visit_id, "He signed the order for two units.", "The downtime hurt him.")
    chat.press("Order")
    chat.say("The cost sheet")
    chat.say("Less talking")
    to_card(chat, 7, 5, 5, 5, 5)
    [debrief] = rows(database, Debrief)
    assert (debrief.outcome, debrief.judged_outcome) == ("order", "order")


# ----- 6 and 7. the drill follows the debrief, within the account's industry ------------------

TENDER = "科主任说他们一直用的是对手的设备，参数也是按那家写的"


def test_a_tender_written_around_a_competitor_is_not_drilled_as_no_budget(
    engine: Engine, database: Database
) -> None:
    """A medical-device rep: the drill follows the competitor, and none is for insurance."""
    chat = rep(engine, language="zh")
    visit_id = planned_visit(database, industry="healthcare", expected=("no_budget",))
    review(chat, visit_id, TENDER, "招标参数是照着对手的机型定的，我们有两项达不到")
    chat.say("延续")
    chat.say("约设备科一起重新评估参数")
    chat.say("参数对比讲清楚了")
    chat.say("早点接触设备科")
    card = to_card(chat, 5, 5, 5, 5, 5)
    assert "下次拜访前练一练：需求探测" in card  # widen the need around the incumbent's specs
    assert "没预算" not in card  # what the plan expected is no evidence
    assert "保险" not in card


def test_the_same_words_on_an_insurance_account_get_the_insurance_drill(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine, language="zh")
    visit_id = planned_visit(database, industry="insurance", expected=("no_budget",))
    review(chat, visit_id, "他说单位已经给他上了保险，不需要再买", "他觉得社保就够了")
    chat.say("延续")
    chat.say("约他带保单来梳理缺口")
    chat.say("态度很好")
    chat.say("讲清社保和商业保险的区别")
    card = to_card(chat, 5, 5, 5, 5, 5)
    assert "下次拜访前练一练：保险：单位已经给我上了保险" in card


def test_without_an_objection_in_the_words_the_weakest_item_decides(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    visit_id = planned_visit(database, industry="healthcare", expected=("no_budget",))
    review(chat, visit_id, "We walked through the ward together.", "Hard to say.")
    chat.press("Continuation")
    chat.say("Director Wang books the demo")
    chat.say("The walk-through")
    chat.say("Ask for a date")
    card = to_card(chat, 5, 5, 5, 3, 5)  # clarity is weakest
    assert "Practise before your next visit: Presenting the full solution" in card
    assert "no budget" not in card
