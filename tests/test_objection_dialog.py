"""`/objection`: classify, coach the four steps, log the answer; team examples; bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from dialogs.core.engine import Engine
from dialogs.core.io import Incoming
from playbooks.loader import load_playbooks
from storage.models import Account, ObjectionLabel, ObjectionLog, User
from storage.objections import best_responses, log_objection
from storage.teams import create_team, join_team
from tests.helpers import Chat
from understanding.readers import Understanding

ROOT = Path(__file__).resolve().parent.parent


def user_of(database: Database, chat: Chat) -> User:
    with Session(database) as session:
        return session.exec(select(User).where(User.platform_user_id == chat.sender.user_id)).one()


def logs(database: Database) -> list[ObjectionLog]:
    with Session(database) as session:
        return list(session.exec(select(ObjectionLog).order_by(ObjectionLog.id)))  # type: ignore[arg-type]


def team_of(database: Database, manager: Chat, *members: Chat) -> None:
    """A team managed by `manager` with `members` in it."""
    with Session(database) as session:
        boss = session.get(User, user_of(database, manager).id)
        assert boss is not None
        team = create_team(session, boss, "East")
        for member in members:
            person = session.get(User, user_of(database, member).id)
            assert person is not None
            join_team(session, person, team.id or 0)
        session.commit()


def forged(chat: Chat, key: str) -> str:
    """Button data with the current prompt's version but a key it never offered."""
    return chat.button("Cancel").rsplit(":", 1)[0] + ":" + key


# ----- full flows ------------------------------------------------------------------------


def test_typed_words_get_a_short_coaching_the_full_one_on_request_then_a_log(
    engine: Engine, database: Database
) -> None:
    chat = Chat(engine)
    chat.onboard()
    chat.say("/objection")
    assert "What did the customer say?" in chat.text
    assert {"No need", "Too busy", "Price too high"} <= set(chat.labels())
    replies = chat.say("Your price is too high compared with the others")
    assert len(replies) == 2  # the short coaching, then the log question
    coaching = replies[0].text
    # One sentence to say now, then the four steps in a line each.
    assert coaching.startswith("💬 <b>Say now:</b> “When you say expensive, compared with whose")
    assert "① The objection: Price too high" in coaching
    assert "my reading of their words" in coaching
    assert "② Find the real reason" in coaching
    assert "③ Respond:</b> Break price into value" in coaching
    assert "④ Check it's resolved" in coaching
    assert len(coaching.splitlines()) <= 12
    assert [[button.label for button in row] for row in replies[0].buttons] == [
        ["📖 The full four steps"]
    ]
    assert "What did you say" in replies[1].text
    full = chat.press("The full four steps")  # the rest, while the log question stays open
    assert len(full) == 5  # ① ② ③ ④, then the log question again
    assert "① The objection: Price too high" in full[0].text
    assert "② Find the real reason" in full[1].text
    assert "③ Respond" in full[2].text and "Break price into value" in full[2].text
    assert "Once your team logs answers" in full[2].text
    assert "④ Check it's resolved" in full[3].text
    assert "What did you say" in full[4].text
    chat.say("I broke the price down per user per month and compared total cost")
    chat.press("Worked")
    assert "Which account was this?" in chat.text
    chat.press("Skip")
    assert "Logged ✅" in chat.text
    [entry] = logs(database)
    assert entry.objection_type == "price"
    assert entry.customer_words == "Your price is too high compared with the others"
    assert entry.confidence is not None and entry.confidence >= 0.5
    assert entry.response and entry.response.startswith("I broke the price")
    assert (entry.outcome, entry.account_id) == ("worked", None)


def test_chinese_flow_with_a_picked_type_and_a_new_account(
    engine: Engine, database: Database
) -> None:
    chat = Chat(engine, language="zh")
    chat.onboard(role="销售代表", zone="上海")
    chat.say("/objection")
    assert "客户是怎么说的" in chat.text
    replies = chat.press("已有供应商")
    assert len(replies) == 2
    assert "① 异议类型" in replies[0].text
    assert "我根据客户原话" not in replies[0].text  # the rep chose it, nothing was guessed
    assert "③ 应对：</b>先肯定，再找缝隙" in replies[0].text
    assert "📖 完整的四步辅导" in chat.labels()
    assert "你是怎么回应的" in chat.text
    chat.say("我提出先做一个小范围的对比测试")
    chat.press("部分管用")
    chat.say("华信钢铁")  # a new account, created inline
    chat.press("制造业")
    assert "已记录" in chat.text and "华信钢铁" in chat.text
    [entry] = logs(database)
    assert (entry.objection_type, entry.outcome, entry.customer_words) == (
        "has_supplier",
        "partly",
        None,
    )
    with Session(database) as session:
        account = session.exec(select(Account)).one()
    assert entry.account_id == account.id and account.industry == "manufacturing"


def test_chinese_words_are_classified(engine: Engine, database: Database) -> None:
    chat = Chat(engine, language="zh")
    chat.onboard(role="销售代表", zone="上海")
    replies = chat.say("/objection 我们已经有固定的供应商了")
    assert "客户原话：“我们已经有固定的供应商了”" in replies[0].text
    assert "这是我根据客户原话做的判断" in replies[0].text
    chat.say("/skip")  # nothing said: nothing to have worked, so no "效果怎么样？"
    assert "效果怎么样" not in chat.text and "这是哪个客户" in chat.text
    chat.say("/skip")
    [entry] = logs(database)
    assert (entry.objection_type, entry.response, entry.outcome) == ("has_supplier", None, None)


def test_arguments_classify_at_once_and_a_type_name_picks_it(
    engine: Engine, database: Database
) -> None:
    chat = Chat(engine)
    chat.onboard()
    replies = chat.say("/objection we have no budget this year")
    assert "① The objection: No budget" in replies[0].text
    chat.say("/objection Price too high")  # leaves the open log question aside
    assert "previous conversation aside" in chat.replies[0].text
    assert "① The objection: Price too high" in chat.replies[1].text
    assert "The customer said" not in chat.replies[1].text
    chat.say("/objection " + "x" * 5000)
    assert "too long" in chat.text


UNSURE = "let me see what the others think <maybe>"


def test_low_confidence_offers_the_top_three_and_records_the_pick(
    engine: Engine, database: Database
) -> None:
    reading = Understanding().objection(UNSURE)
    assert not reading.confident  # the premise: the shipped model is unsure of these words
    labels = {key: objection.label.en for key, objection in load_playbooks().objections.items()}
    top = [labels[type_id] for type_id, _p in reading.candidates[:3]]
    chat = Chat(engine)
    chat.onboard()
    chat.say("/objection")
    chat.say(UNSURE)
    assert "objection “let me see what the others think &lt;maybe&gt;” is" in chat.text
    assert chat.labels()[:4] == [*top, "None of these"]
    chat.press("None of these")
    assert "Which kind of objection is it?" in chat.text and len(chat.labels()) >= 10
    chat.press("◀ Back")
    replies = chat.press("No urgency")
    assert "① The objection: No urgency" in replies[0].text
    assert "my reading" not in replies[0].text
    with Session(database) as session:
        [label] = session.exec(select(ObjectionLabel)).all()
    assert (label.text, label.label, label.predicted) == (UNSURE, "no_urgency", reading.label)
    chat.say("/skip")
    chat.say("/skip")
    [entry] = logs(database)
    assert (entry.objection_type, entry.outcome) == ("no_urgency", None)


def test_words_with_nothing_to_read_are_asked_for_again(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.onboard()
    chat.say("/objection")
    for text in ("hmm", "…", "😀", "ok"):
        assert "What exactly did the customer say?" in chat.say(text)[0].text, text
    chat.say("/objection hmm")  # nothing to read in the arguments: the question is asked
    assert "What did the customer say?" in chat.text
    chat.say("xq zv jj wq")  # no word the model knows: every type to pick from
    assert "Which kind of objection is it?" in chat.text
    chat.press("Too busy")
    with Session(database) as session:
        [label] = session.exec(select(ObjectionLabel)).all()
    assert (label.label, label.predicted) == ("too_busy", None)


def test_a_skipped_response_asks_no_outcome_and_stores_none(
    engine: Engine, database: Database
) -> None:
    chat = Chat(engine)
    chat.onboard()
    chat.say("/objection we're happy with our current supplier")
    chat.say("/skip")  # "how did you respond?" skipped
    assert "Did it work?" not in chat.text
    assert "Which account was this?" in chat.text
    chat.say("/skip")
    assert "Logged ✅" in chat.text
    [entry] = logs(database)
    assert (entry.response, entry.outcome) == (None, None)


def test_the_full_coaching_button_survives_other_dialogs_and_refuses_forgeries(
    engine: Engine, database: Database
) -> None:
    chat = Chat(engine)
    chat.onboard()
    chat.say("/objection Price too high")
    button = chat.button("The full four steps")
    chat.say("/cancel")  # the log question is gone; the button still works
    replies = chat.send(Incoming.pressed(button))
    assert len(replies) == 4 and "③ Respond" in replies[2].text
    assert "older message" in chat.send(Incoming.pressed("@o999:full"))[0].text
    assert "older message" in chat.send(Incoming.pressed(button.replace("full", "rest")))[0].text


# ----- the team's best responses ---------------------------------------------------------


def test_team_responses_reach_teammates_but_not_other_teams(
    engine: Engine, database: Database
) -> None:
    boss, author, teammate, outsider = (
        Chat(engine, user_id=uid, name=name)
        for uid, name in (("1", "Boss"), ("2", "Chen"), ("3", "Lin"), ("4", "Other"))
    )
    boss.onboard(role="Sales manager")
    for rep in (author, teammate, outsider):
        rep.onboard()
    team_of(database, boss, author, teammate)
    team_of(database, outsider)  # a team of their own

    author.say("/objection Your price is too high")
    author.say("Per user it costs less than a coffee a day <b>&</b>")
    author.press("Worked")
    author.say("/skip")
    author.say("/objection Your price is too high")
    author.say("I offered a discount on the spot")
    author.press("Didn't work")  # failed answers are never offered
    author.say("/skip")

    replies = teammate.say("/objection too expensive")
    short = replies[0].text  # the best answer that worked, right in the short coaching
    assert "what worked for Chen: “Per user it costs less than a coffee a day" in short
    assert "coffee a day &lt;b&gt;&amp;&lt;/b&gt;" in short
    assert "discount on the spot" not in short
    respond = teammate.press("The full four steps")[2].text
    assert "What worked for your team" in respond
    assert "coffee a day &lt;b&gt;&amp;&lt;/b&gt;" in respond and "(by Chen)" in respond
    assert "discount on the spot" not in respond
    assert "coffee" not in outsider.say("/objection too expensive")[0].text
    # The manager shares the team too; another type shows nothing.
    assert "coffee" in boss.say("/objection too expensive")[0].text
    assert "coffee" not in teammate.say("/objection we have no budget")[0].text


def test_best_responses_newest_three_and_own_without_a_team(database: Database) -> None:
    with Session(database) as session:
        loner = User(platform="telegram", platform_user_id="9", display_name="Solo")
        other = User(platform="telegram", platform_user_id="8", display_name="Else")
        session.add_all([loner, other])
        session.flush()
        for number in range(5):
            log_objection(
                session, loner.id or 0, "price", response=f"answer {number}", outcome="worked"
            )
        log_objection(session, other.id or 0, "price", response="not mine", outcome="worked")
        log_objection(session, loner.id or 0, "price", response=None, outcome="worked")
        found = best_responses(session, loner.id or 0, "price")
    assert [best.response for best in found] == ["answer 4", "answer 3", "answer 2"]


# ----- back, skip, cancel and bad input -------------------------------------------------


def test_back_skip_and_cancel(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.onboard()
    chat.say("/objection")
    chat.say("/back")
    assert "first question" in chat.text
    chat.press("Too busy")
    chat.say("I asked for ten minutes next week instead")
    chat.say("/skip")  # the outcome is required once something was said
    assert "can't be skipped" in chat.text
    chat.press("Worked")
    chat.press("◀ Back")
    chat.press("◀ Back")
    assert "What did you say" in chat.text
    chat.say("/skip")  # said nothing after all: the outcome is not asked
    assert "Did it work?" not in chat.text and "Which account was this?" in chat.text
    chat.press("✖ Cancel")
    assert "Cancelled" in chat.text
    assert logs(database) == []


def test_bad_input_at_each_kind_of_answer(engine: Engine, database: Database) -> None:
    owner = Chat(engine, user_id="1", name="Owner")
    owner.onboard()
    with Session(database, expire_on_commit=False) as session:
        secret = Account(owner_id=user_of(database, owner).id or 0, name="Secret Deal Co")
        session.add(secret)
        session.commit()

    chat = Chat(engine, user_id="2", name="Rep")
    chat.onboard()
    chat.say("/objection")
    assert "didn't get an answer" in chat.say("   ")[0].text
    assert "too long" in chat.say("x" * 5000)[0].text
    assert "typed answer" in chat.send(Incoming.unsupported("sticker"))[0].text
    old_button = chat.button("Too busy")
    chat.press("No trust")
    assert "older message" in chat.send(Incoming.pressed(old_button))[0].text
    assert "too long" in chat.say("y" * 5000)[0].text  # the answer to "what did you say?"
    chat.say("/skip")
    assert "older message" in chat.send(Incoming.pressed(forged(chat, "nonsense")))[0].text
    # Someone else's account: a forged button and a typed id are both refused.
    assert "older message" in chat.send(Incoming.pressed(forged(chat, f"a{secret.id}")))[0].text
    refused = chat.say(f"a{secret.id}")
    assert "isn't available" in refused[0].text
    assert "Secret Deal Co" not in chat.text
    chat.press("Skip")
    [entry] = logs(database)
    assert entry.account_id is None and entry.owner_id != secret.owner_id


# ----- the command line ------------------------------------------------------------------


def test_cli_classifies_as_json() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "objections", "classify", "价格太贵了", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    payload = json.loads(result.stdout)
    assert set(payload) >= {"type", "confidence", "candidates"}
    assert payload["type"] == "price" and 0 <= payload["confidence"] <= 1
    assert {label for label, _p in payload["candidates"]} >= {"price", "no_need"}
    assert payload["evidence"] and payload["backend"] == "local"
