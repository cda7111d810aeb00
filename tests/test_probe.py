"""`/probe`: SPIN question plans, needs heard after the meeting, and the gaps still open."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from dialogs.core.engine import Engine
from dialogs.core.io import Incoming
from dialogs.field.probe_dialog import Gap, OwnQuestion, find_gaps, parse_own, suggest
from playbooks.loader import load_playbooks
from storage.models import Account, Need, ProbePlan, User
from tests.helpers import Chat


@dataclass(frozen=True)
class Heard:
    text: str
    kind: str = "implied"
    implication_asked: bool = False
    need_payoff_asked: bool = False


def plans(database: Database) -> list[ProbePlan]:
    with Session(database) as session:
        return list(session.exec(select(ProbePlan)))


def needs(database: Database) -> list[Need]:
    with Session(database) as session:
        return list(session.exec(select(Need).order_by(Need.id)))  # type: ignore[arg-type]


def accounts(database: Database) -> list[Account]:
    with Session(database) as session:
        return list(session.exec(select(Account)))


def add_account(database: Database, chat: Chat, name: str, industry: str | None) -> int:
    with Session(database) as session:
        owner = session.exec(select(User).where(User.platform_user_id == chat.sender.user_id)).one()
        account = Account(owner_id=owner.id or 0, name=name, industry=industry)
        session.add(account)
        session.commit()
        return account.id or 0


def record(chat: Chat, text: str, kind: str, implication: str, need_payoff: str) -> None:
    chat.say(text)
    chat.press(kind)
    chat.press(implication)
    chat.press(need_payoff)


# ----- the plan --------------------------------------------------------------------------


def test_plan_in_english_for_a_new_account(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.onboard()
    chat.say("/probe")
    assert "Which account are you probing?" in chat.text
    chat.say("Huaxin Steel")
    chat.press("Manufacturing")
    assert "<b>Huaxin Steel</b>" in chat.text and "Implied needs" not in chat.text
    chat.press("Plan my questions")
    chat.press("Process")
    chat.press("Cost")
    assert "✅ Process" in chat.labels() and "✅ Cost" in chat.labels()
    chat.press("Done")
    situation = chat.text
    assert "Situation (S)" in situation
    assert "walk me through how this work gets done" in situation  # process
    assert "Roughly what do you spend" in situation  # cost
    assert "Which departments use" not in situation  # a direction not chosen
    assert "mobile bills" not in situation  # telecom only
    chat.press("1")
    chat.press("2")
    chat.press("Done")
    assert "Problem (P)" in chat.text and "peak season" in chat.text  # manufacturing fits
    chat.say("1 2")  # typed numbers answer at once
    assert "Implication (I)" in chat.text
    chat.say("/skip")
    assert "Need-payoff (N)" in chat.text
    chat.press("1")
    chat.press("Done")
    chat.say("S: Who signs off spending on maintenance?\nHow often do you audit the line?")
    chat.press("Problem (P)")
    plan = chat.text
    assert "<b>Question plan for Huaxin Steel</b>" in plan
    assert plan.index("Situation (S)") < plan.index("Problem (P)") < plan.index("Need-payoff")
    assert "Implication (I)" not in plan
    assert "Who signs off spending on maintenance?" in plan
    [saved] = plans(database)
    stages = [question["stage"] for question in saved.questions]
    assert stages == ["situation"] * 3 + ["problem"] * 3 + ["need_payoff"]
    assert saved.questions[0] == {
        "stage": "situation",
        "direction": "process",
        "text": "Could you walk me through how this work gets done today, from start to finish?",
        "source": "s-process-today",
    }
    own = [question for question in saved.questions if question["source"] is None]
    assert [(q["stage"], q["direction"] is None) for q in own] == [
        ("situation", True),
        ("problem", True),
    ]
    [account] = accounts(database)
    assert (account.name, account.industry, saved.account_id) == (
        "Huaxin Steel",
        "manufacturing",
        account.id,
    )


def test_plan_in_chinese_by_typing_with_industry_questions(
    engine: Engine, database: Database
) -> None:
    chat = Chat(engine, language="zh")
    chat.onboard(role="销售代表", zone="上海")
    add_account(database, chat, "平安家园", "insurance")
    chat.say("/probe 平安家园")
    assert "你想做什么" in chat.text
    chat.say("1")
    chat.say("/skip")  # every direction
    assert "背景问题(S)" in chat.text and "您和家人现在都有哪些保障" in chat.text
    assert "现在用的是哪家的设备" not in chat.text  # not offered to insurance
    chat.say("1")
    chat.say("1")
    chat.say("1")
    chat.say("1")
    chat.say("/skip")
    plan = chat.text
    assert "<b>平安家园的提问计划</b>" in plan and "需求-效益问题(N)" in plan
    [saved] = plans(database)
    assert [question["stage"] for question in saved.questions] == [
        "situation",
        "problem",
        "implication",
        "need_payoff",
    ]
    assert saved.questions[0]["text"].startswith("目前单位里")


def test_an_empty_plan_saves_nothing(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.onboard()
    chat.say("/probe Brand New Co")
    chat.press("Retail")
    chat.press("Plan my questions")
    for _ in range(6):
        chat.say("/skip")
    assert "no plan to save" in chat.text
    assert plans(database) == [] and accounts(database) == []


# ----- recording needs and gaps ----------------------------------------------------------


def test_record_needs_shows_gaps_now_and_at_the_next_probe(
    engine: Engine, database: Database
) -> None:
    chat = Chat(engine)
    chat.onboard()
    add_account(database, chat, "Nanfang Logistics", "logistics")
    chat.say("/probe")
    chat.press("Nanfang Logistics")
    chat.press("Record the needs I heard")
    assert "What need did you hear at <b>Nanfang Logistics</b>?" in chat.text
    record(chat, "Our staff keep working overtime <again>", "Implied", "No", "No")
    chat.press("Yes")
    assert "Need 2" in chat.text
    record(chat, "Repairs take too long", "Implied", "Yes", "No")
    chat.press("Yes")
    record(chat, "We want one live view for all depots", "Explicit", "No", "No")
    chat.press("No")
    summary = chat.text
    assert "Saved 3 needs for <b>Nanfang Logistics</b> (1 explicit)" in summary
    assert "“Our staff keep working overtime &lt;again&gt;”: no Implication (I)" in summary
    assert "“Repairs take too long”: no Need-payoff (N) question yet" in summary
    assert "live view" not in summary  # explicit needs are no gap
    assert "working overtime like this" in summary  # the suggestion matches the need's words
    assert summary.count("Try:") == 2
    stored = needs(database)
    assert [(n.text, n.kind, n.implication_asked, n.need_payoff_asked) for n in stored] == [
        ("Our staff keep working overtime <again>", "implied", False, False),
        ("Repairs take too long", "implied", True, False),
        ("We want one live view for all depots", "explicit", False, False),
    ]

    chat.say("/probe Nanfang Logistics")
    assert "Implied needs still to develop" in chat.text and "📝 Plan my questions" in chat.labels()
    chat.press("Record the needs I heard")
    record(chat, "Repairs take too long", "Implied", "Yes", "Yes")  # developed since
    chat.press("No")
    assert "Repairs take too long" not in chat.text
    assert "working overtime" in chat.text


def test_needs_link_to_the_latest_plan_and_record_in_chinese(
    engine: Engine, database: Database
) -> None:
    chat = Chat(engine, language="zh")
    chat.onboard(role="销售代表", zone="上海")
    add_account(database, chat, "华信钢铁", "manufacturing")
    chat.say("/probe 华信钢铁")
    chat.press("准备提问计划")
    chat.say("/skip")
    chat.say("1")
    for _ in range(4):
        chat.say("/skip")
    chat.say("/probe 华信钢铁")
    chat.press("记录听到的需求")
    chat.say("设备一坏，维修要等好几天")
    chat.press("隐含需求")
    chat.say("否")
    chat.say("否")
    chat.say("否")
    assert "已为<b>华信钢铁</b>保存 1 个需求。" in chat.text
    assert "还需要深挖的隐含需求" in chat.text and "可以试试" in chat.text
    [plan] = plans(database)
    [need] = needs(database)
    assert need.probe_id == plan.id


def test_find_gaps_judges_each_need_by_its_latest_record() -> None:
    history = [
        Heard("Repairs are slow"),
        Heard("Costs overrun", implication_asked=True),
        Heard("We want a portal", kind="explicit"),
        Heard("  repairs ARE slow ", implication_asked=True, need_payoff_asked=True),
        Heard("Staff are tired", need_payoff_asked=True),
        Heard("Costs vary", kind="explicit"),
    ]
    assert find_gaps(history) == [
        Gap("Staff are tired", ("implication",)),
        Gap("Costs overrun", ("need_payoff",)),
    ]
    assert find_gaps([]) == []
    assert find_gaps([Heard("made explicit later"), Heard("Made explicit later", "explicit")]) == []


def test_suggestions_prefer_shared_words_and_avoid_repeats() -> None:
    bank = load_playbooks().questions_for("implication", "manufacturing")
    overtime = suggest(bank, "people are doing overtime every week", set())
    assert overtime is not None and overtime.id == "i-people-turnover"
    generic = suggest(bank, "xyz", set())
    assert generic is not None and generic.direction is None
    other = suggest(bank, "xyz", {generic.id})
    assert other is not None and other.id != generic.id
    assert suggest([], "anything", set()) is None
    chinese = suggest(bank, "设备经常停机", set())
    assert chinese is not None and chinese.direction == "equipment"


def test_own_questions_are_split_and_filed() -> None:
    assert parse_own("S: Who decides?\n\nwhat breaks most?; N：值多少钱？ ;I) cost?") == [
        OwnQuestion("Who decides?", "situation"),
        OwnQuestion("what breaks most?", None),
        OwnQuestion("值多少钱？", "need_payoff"),
        OwnQuestion("cost?", "implication"),
    ]
    assert parse_own("Service levels matter") == [OwnQuestion("Service levels matter", None)]


# ----- back, skip, cancel and bad input -------------------------------------------------


def test_back_and_cancel_keep_needs_right(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.onboard()
    add_account(database, chat, "Acme", "retail")
    chat.say("/probe Acme")
    chat.say("/back")
    assert "first question" in chat.text
    chat.press("Record the needs I heard")
    chat.say("Stock-outs at weekends")
    chat.press("◀ Back")
    chat.say("Stock-outs every weekend")  # answering again replaces the first answer
    chat.press("Implied")
    chat.press("Yes")
    chat.press("No")
    chat.press("Yes")  # another need…
    chat.say("Second thought")
    chat.press("◀ Back")
    chat.press("◀ Back")  # …back past it, to "another need?"
    chat.press("No")
    [need] = needs(database)
    assert (need.text, need.implication_asked, need.need_payoff_asked) == (
        "Stock-outs every weekend",
        True,
        False,
    )
    chat.say("/probe Acme")
    chat.press("Plan my questions")
    chat.press("◀ Back")
    assert "What would you like to do?" in chat.text
    chat.press("Plan my questions")
    chat.say("/skip")
    chat.press("1")
    chat.press("✖ Cancel")
    assert "Cancelled" in chat.text and plans(database) == []
    chat.say("/probe Unsaved Co")
    chat.press("Retail")
    chat.press("Record the needs I heard")
    chat.say("/cancel")
    assert [account.name for account in accounts(database)] == ["Acme"]


def test_bad_input_at_each_kind_of_answer(engine: Engine, database: Database) -> None:
    owner = Chat(engine, user_id="1", name="Owner")
    owner.onboard()
    secret_id = add_account(database, owner, "Secret Deal Co", "telecom")
    chat = Chat(engine, user_id="2", name="Rep")
    chat.onboard()
    add_account(database, chat, "Own Co", "retail")
    chat.say("/probe")
    cancel = chat.button("Cancel")
    forged = cancel.rsplit(":", 1)[0] + f":a{secret_id}"
    assert "older message" in chat.send(Incoming.pressed(forged))[0].text
    assert "isn't available" in chat.say(f"a{secret_id}")[0].text
    assert "too long" in chat.say("x" * 5000)[0].text
    assert "typed answer" in chat.send(Incoming.unsupported("sticker"))[0].text
    chat.press("Own Co")
    assert "Secret Deal Co" not in chat.text
    stale = chat.button("Plan my questions")
    chat.press("Record the needs I heard")
    assert "older message" in chat.send(Incoming.pressed(stale))[0].text
    assert "didn't get an answer" in chat.say("  ")[0].text
    assert "too long" in chat.say("n" * 5000)[0].text
    assert "typed answer" in chat.send(Incoming.unsupported("sticker"))[0].text
    chat.say("Queues at the tills")
    assert "Please pick one" in chat.say("maybe")[0].text
    chat.press("Explicit")
    assert "yes or no" in chat.say("perhaps")[0].text
    chat.say("no")
    chat.say("no")
    chat.say("no")
    [need] = needs(database)
    assert need.kind == "explicit" and need.account_id != secret_id
    chat.say("/probe Own Co")
    chat.press("Plan my questions")
    assert "Please pick one" in chat.say("99")[0].text  # a direction that does not exist
    chat.say("/skip")
    chat.say("/skip")
    chat.say("/skip")
    chat.say("/skip")
    chat.say("/skip")
    assert "up to 10 questions" in chat.say("\n".join(f"Q{n}?" for n in range(11)))[0].text
    assert "under 300 characters" in chat.say("q" * 301)[0].text
