"""The visit brief as reps read it in the car park: short, and what matters most first.

The quickest /visit keeps an earlier opening assessment in one answer and its brief
leaves out the sections nobody filled in; the brief warns about the decision chain,
recalls the last debrief, the probe plan and the needs heard, and states the objective
as the customer action once the rep gave one.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from dialogs.core.engine import Engine
from storage.models import Account, AccountChange, Contact, Debrief, Need, ProbePlan, User
from tests.conftest import FIXED_NOW
from tests.helpers import Chat
from tests.test_visit import add_account, add_visit, rep, visits

EMPTY_SECTION_MARKS = ("❓", "🛡", "📎", "🔗", "🔎", "👂", "🗒", "—")


def assessed_account(
    database: Database,
    name: str = "Huaxin Steel",
    *,
    contacts: tuple[tuple[str, str, str], ...] = (("Director Wang", "decision_maker", "neutral"),),
) -> int:
    """An account placed at B (neutral ground, we trail) on an earlier visit, with contacts."""
    with Session(database) as session:
        owner = session.exec(select(User).where(User.platform_user_id == "1001")).one()
        account = Account(
            owner_id=owner.id or 0,
            name=name,
            industry="manufacturing",
            territory="neutral",
            lead="trail",
            opening="B",
        )
        session.add(account)
        session.flush()
        for contact_name, role, stance in contacts:
            session.add(
                Contact(account_id=account.id or 0, name=contact_name, role=role, stance=stance)
            )
        session.commit()
        return account.id or 0


def planned(stage: str, text: str) -> dict[str, str | None]:
    """A question of a probe plan, as /probe stores it."""
    return {"stage": stage, "direction": None, "text": text, "source": None}


def start(chat: Chat, account: str = "Huaxin Steel", contact: str = "Director Wang") -> None:
    """/visit up to the opening position, with an objective that names a customer action."""
    chat.say(f"/visit {account}")
    chat.say("tomorrow 3pm")
    chat.press("Yes")
    chat.say(contact)
    chat.say("Director Wang agrees to a one-month trial in workshop 2")


# ----- 1. the quickest visit -----------------------------------------------------------------


def test_the_quickest_visit_keeps_the_last_opening_and_leaves_empty_sections_out(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    assessed_account(database)
    start(chat)
    assert chat.labels()[0] == "Same as last time (B)"
    assert "Last time you placed this account at <b>B</b>" in chat.text
    chat.say("/skip")  # keeps territory and lead: no "can't be skipped", no lead question
    assert "can't be skipped" not in chat.text
    assert "Opening position <b>B</b>" in chat.text
    chat.press("⭐")
    for _ in range(5):  # questions, own questions, objections, proof, hook
        chat.say("/skip")
    brief = chat.text
    assert "Visit brief: Huaxin Steel" in brief and "<b>Opening B</b>" in brief
    assert "Saved as planned" in brief
    for mark in EMPTY_SECTION_MARKS:
        assert mark not in brief, mark
    assert "\n\n\n" not in brief
    [visit] = visits(database)
    assert (visit.territory, visit.lead, visit.opening) == ("neutral", "trail", "B")
    with Session(database) as session:
        assert session.exec(select(AccountChange)).all() == []  # nothing changed


def test_same_as_last_time_in_chinese_and_a_changed_territory_offers_the_old_lead(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine, language="zh")
    assessed_account(database)
    chat.say("/visit Huaxin Steel")
    chat.say("明天下午三点")
    chat.say("对")
    chat.say("Director Wang")
    chat.say("王主任同意安排信息中心做一次技术交流")
    assert chat.labels()[0] == "和上次一样（B）"
    chat.press("和上次一样")
    assert "开局位置 <b>B</b>" in chat.text and "这个问题不能跳过" not in chat.text
    chat.say("/back")
    chat.press("我方地盘")  # judged afresh: the lead is asked, last time's first
    assert chat.labels()[0] == "和上次一样（我方落后）"
    chat.say("/skip")
    assert "开局位置 <b>A</b>" in chat.text  # ours × trail
    assert not any("⭐" in label for label in chat.labels())  # A suggests no strategy
    chat.say("/skip")
    for _ in range(5):
        chat.say("/skip")
    [visit] = visits(database)
    assert (visit.territory, visit.lead, visit.opening) == ("ours", "trail", "A")


def test_an_account_never_assessed_is_asked_both_questions(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    add_account(database, "Huaxin Steel", contacts=(("Director Wang", "decision_maker"),))
    start(chat)
    assert "Same as last time" not in str(chat.labels())
    chat.say("/skip")
    assert "can't be skipped" in chat.text


# ----- 2. what matters most ------------------------------------------------------------------


def test_the_brief_warns_about_the_decision_chain(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    account_id = assessed_account(
        database,
        contacts=(
            ("Buyer Zhang", "buyer", "opponent"),
            ("Engineer Li", "expert", "supporter"),
        ),
    )
    add_visit(
        database,
        account_id,
        FIXED_NOW + timedelta(days=1),
        contact_name="Mr Sun",
        contact_role="user",
        objective="Mr Sun agrees to a trial",
    )
    chat.say("/brief")
    brief = chat.text
    assert "⚠️ <b>Opponent:</b> Buyer Zhang (Buyer (purchasing))" in brief
    assert "⚠️ <b>No decision maker</b> in the decision chain yet" in brief
    assert "⚠️ <b>Stance unknown:</b> Mr Sun (User)" in brief  # not in the chain
    assert "Engineer Li" not in brief  # a supporter: nothing to warn about
    # Warnings come right under who the rep meets, before the objective.
    assert brief.index("⚠️") < brief.index("🎯")


def test_a_chain_with_a_decision_maker_and_no_opponent_warns_of_nothing(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine, language="zh")
    assessed_account(database)
    chat.say("/visit Huaxin Steel")
    chat.say("明天下午三点")
    chat.say("对")
    chat.say("Director Wang")  # the chain's decision maker, neutral
    chat.say("王主任同意安排信息中心做一次技术交流")
    chat.press("和上次一样")
    chat.press("⭐")
    for _ in range(5):
        chat.say("/skip")
    assert "拜访简报" in chat.text and "⚠️" not in chat.text


def test_the_brief_recalls_the_last_debrief_the_probe_plan_and_the_needs_heard(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    account_id = assessed_account(database)
    with Session(database) as session:
        owner = session.exec(select(User).where(User.platform_user_id == "1001")).one()
        owner_id = owner.id or 0
        session.add(
            Debrief(
                owner_id=owner_id,
                account_id=account_id,
                outcome="continuation",
                happened="Older visit",
                created_at=FIXED_NOW - timedelta(days=20),
            )
        )
        session.add(
            Debrief(
                owner_id=owner_id,
                account_id=account_id,
                outcome="advance",
                judged_outcome="continuation",
                happened="He said he'd think about sharing the downtime numbers",
                next_step="Send Director Wang the downtime calculator",
                next_step_at=FIXED_NOW + timedelta(hours=5),
                created_at=FIXED_NOW - timedelta(days=2),
            )
        )
        session.add(
            ProbePlan(
                owner_id=owner_id,
                account_id=account_id,
                questions=[
                    planned("problem", "How often does line 2 stop?"),
                    planned("implication", "What does a stop cost per hour?"),
                ],
            )
        )
        for text, kind in (
            ("Line 2 stops twice a month", "implied"),
            ("They want remote monitoring", "explicit"),
        ):
            session.add(Need(owner_id=owner_id, account_id=account_id, text=text, kind=kind))
        session.commit()
    add_visit(
        database,
        account_id,
        FIXED_NOW + timedelta(days=1),
        contact_name="Director Wang",
        contact_role="decision_maker",
        objective="Build the relationship",
        customer_action="Director Wang agrees to share the downtime log",
        questions=["What does a stop cost per hour?"],
    )
    chat.say("/brief")
    brief = chat.text
    assert "<b>Objective:</b> Director Wang agrees to share the downtime log" in brief
    assert "Build the relationship" not in brief
    assert "🗒 <b>Last debrief</b>" in brief
    assert "<b>Continuation</b>. He said he&#39;d think about sharing the downtime numbers" in brief
    assert "Older visit" not in brief
    assert "<b>Next step from then:</b> Send Director Wang the downtime calculator" in brief
    assert "👂 <b>Needs heard</b>" in brief
    assert "• Line 2 stops twice a month\n" in brief
    assert "• They want remote monitoring <i>(explicit)</i>" in brief
    assert "🔎 <b>From your probe plan</b>\n• How often does line 2 stop?" in brief
    assert brief.count("What does a stop cost per hour?") == 1  # already a prepared question
    assert len(brief) < 4096


def test_the_brief_of_a_chinese_rep_says_the_same_in_chinese(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine, language="zh")
    account_id = assessed_account(database, contacts=(("张采购", "buyer", "opponent"),))
    with Session(database) as session:
        owner = session.exec(select(User).where(User.platform_user_id == "1001")).one()
        session.add(
            Debrief(
                owner_id=owner.id or 0,
                account_id=account_id,
                outcome="no_sale",
                happened="招标参数是按对手写的",
                next_step="约设备科主任谈参数",
                created_at=FIXED_NOW - timedelta(days=3),
            )
        )
        session.commit()
    add_visit(
        database,
        account_id,
        FIXED_NOW + timedelta(days=1),
        contact_name="张采购",
        objective="张采购同意安排一次技术交流",
    )
    chat.say("/brief")
    brief = chat.text
    assert "⚠️ <b>反对者：</b>张采购（采购者）" in brief
    assert "⚠️ <b>决策链里还没有决策者。</b>" in brief
    assert "🗒 <b>上次复盘</b>" in brief and "<b>无法成交</b>。招标参数是按对手写的" in brief
    assert "⏭ <b>当时定的下一步：</b>约设备科主任谈参数" in brief
    for mark in ("❓", "🛡", "📎", "🔗", "—"):
        assert mark not in brief, mark


def test_a_brief_with_every_section_at_its_longest_stays_in_one_message(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    opponents = tuple((f"{n}" + "O" * 79, "buyer", "opponent") for n in range(6))
    account_id = assessed_account(database, "H" * 120, contacts=opponents)
    with Session(database) as session:
        owner = session.exec(select(User).where(User.platform_user_id == "1001")).one()
        owner_id = owner.id or 0
        session.add(
            Debrief(
                owner_id=owner_id,
                account_id=account_id,
                outcome="advance",
                happened="h" * 2000,
                next_step="n" * 500,
                next_step_at=FIXED_NOW + timedelta(days=2),
            )
        )
        session.add(
            ProbePlan(
                owner_id=owner_id,
                account_id=account_id,
                questions=[planned("problem", f"{n} " + "p" * 300) for n in range(20)],
            )
        )
        for n in range(20):
            session.add(
                Need(
                    owner_id=owner_id,
                    account_id=account_id,
                    text=f"{n} " + "x" * 500,
                    kind="implied",
                )
            )
        session.commit()
    chat.say("/visit " + "H" * 120)
    chat.say("tomorrow 3pm")
    chat.press("Yes")
    chat.say("N" * 80)
    chat.press("Expert")
    chat.say("Build the relationship " + "o" * 270)
    chat.say("They agree to " + "a" * 280)
    chat.press("Same as last time")
    chat.press("⭐")
    chat.say(" ".join(f"{stage}{n}" for stage in "SPIN" for n in (1, 2, 3)))
    chat.say("\n".join(f"{n}. " + "q" * 95 for n in range(10)))
    chat.say(" ".join(str(n) for n in range(1, 11)))
    for _ in range(10):
        chat.say("<b>&" + "r" * 290)
    chat.say("1 2 3 4 5 6 7")
    chat.say("h" * 300)
    assert "Visit brief" in chat.text and "👂" in chat.text and "🔎" in chat.text
    assert len(chat.replies) == 1 and len(chat.text) < 4096, len(chat.text)
