"""`/account` and `/accounts`: tiers, value classes, contacts, cards, and access control."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from dialogs.core.engine import Engine
from storage.models import Account, AccountChange, Contact, Opportunity, OpportunityChange
from tests.helpers import Chat


def create_account(chat: Chat, name: str = "Huaxin Steel") -> None:
    chat.say("/account")
    if "Which account" in chat.text:
        chat.say(name)
    else:
        chat.say(name)
    chat.press("Manufacturing")
    chat.press("Potential")  # funnel stage
    chat.press("Existing customer")
    chat.press("High")  # contribution
    chat.press("Low")  # stability


def test_new_existing_customer_gets_tier_value_class_and_contacts(
    engine: Engine, database: Database
) -> None:
    chat = Chat(engine)
    chat.onboard()
    create_account(chat)
    assert "Tier <b>EII</b>" in chat.text
    chat.press("8")  # short-term
    chat.press("3")  # long-term
    assert "Class 3" in chat.text
    chat.press("Yes")
    chat.say("Director Wang")
    chat.press("Decision maker")
    chat.press("Neutral")
    chat.press("Friend")
    chat.press("Yes")
    chat.say("Ms Li, purchasing")
    chat.press("Buyer")
    chat.press("Opponent")
    chat.press("Outsider")
    chat.press("No")
    chat.press("Skip")  # no deal yet
    card = chat.text
    assert "<b>Huaxin Steel</b>" in card
    assert "Director Wang" in card and "Ms Li, purchasing" in card
    with Session(database) as session:
        account = session.exec(select(Account)).one()
        assert (account.tier, account.value_class, account.stage) == ("EII", 3, "potential")
        contacts = session.exec(select(Contact)).all()
        assert [(c.role, c.stance, c.relationship) for c in contacts] == [
            ("decision_maker", "neutral", "friend"),
            ("buyer", "opponent", "outsider"),
        ]


def test_potential_customer_tier_and_stage_change_is_recorded(
    engine: Engine, database: Database
) -> None:
    chat = Chat(engine)
    chat.onboard()
    create_account(chat, "Nanfang Logistics")
    chat.press("2")
    chat.press("9")
    chat.press("No")
    chat.press("Skip")  # no deal yet
    chat.say("/account Nanfang Logistics")
    assert "now:" in chat.text  # updating shows stored answers
    chat.press("Manufacturing")
    chat.press("Target customer")
    chat.press("Potential customer")
    chat.press("High")
    chat.press("High")
    assert "Tier <b>PI</b>" in chat.text
    chat.press("9")
    chat.press("9")
    chat.press("No")
    chat.press("Skip")  # no deal yet
    with Session(database) as session:
        account = session.exec(select(Account)).one()
        assert (account.tier, account.value_class, account.stage) == ("PI", 1, "target")
        changes = session.exec(select(AccountChange)).all()
        assert [(c.field_name, c.old_value, c.new_value) for c in changes] == [
            ("stage", None, "potential"),
            ("stage", "potential", "target"),
        ]


def test_accounts_lists_and_shows_a_card_in_chinese(engine: Engine) -> None:
    chat = Chat(engine, language="zh")
    chat.onboard(role="销售代表", zone="上海")
    chat.say("/accounts")
    assert "还没有客户" in chat.text
    chat.say("/account")
    chat.say("华信钢铁")
    chat.say("1")
    chat.say("1")
    chat.press("潜在客户")
    chat.press("高")
    chat.press("低")
    chat.say("5")
    chat.say("5")
    chat.say("否")
    chat.say("/skip")  # no deal yet
    chat.say("/accounts")
    chat.press("华信钢铁")
    assert "<b>华信钢铁</b>" in chat.text and "决策链" in chat.text


def test_another_reps_account_cannot_be_opened(engine: Engine) -> None:
    owner = Chat(engine, user_id="1")
    owner.onboard()
    create_account(owner, "Secret Deal Co")
    owner.press("5")
    owner.press("5")
    owner.press("No")
    owner.press("Skip")  # no deal yet
    other = Chat(engine, user_id="2", name="Nosy")
    other.onboard()
    other.say("/account")  # no accounts of their own: straight to a new one
    other.say("/accounts")
    assert "no accounts yet" in other.text
    # A forged button carrying the owner's account id is refused.
    create_account(other, "Own Co")
    other.press("5")
    other.press("5")
    other.press("No")
    other.press("Skip")  # no deal yet
    other.say("/accounts")
    own_button = other.button("Own Co")
    forged = own_button.rsplit(":", 1)[0] + ":a1"
    from dialogs.core.io import Incoming

    other.send(Incoming.pressed(forged))
    assert "Secret Deal Co" not in other.text
    other.say("a1")  # typed by hand
    assert "Secret Deal Co" not in other.text


def test_an_overlong_account_name_in_the_command_is_refused(engine: Engine) -> None:
    chat = Chat(engine)
    chat.onboard()
    for command in ("/account", "/visit", "/probe"):
        chat.say(f"{command} {'x' * 121}")
        assert "up to 120 characters" in chat.text


# ----- the deal on an account ------------------------------------------------------------


def test_a_new_account_gets_its_deal_in_two_steps(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.onboard()
    create_account(chat)
    chat.press("8")
    chat.press("3")
    chat.press("No")
    assert "What is the deal worth?" in chat.text and "Potential customer: 20%" in chat.text
    chat.say("lots")
    assert "couldn't read that amount" in chat.text
    chat.say("120万")
    assert "which month" in chat.text.lower()
    chat.say("someday")
    assert "couldn't read that month" in chat.text
    chat.say("2026-05")
    assert "already over" in chat.text
    chat.say("3月")
    assert "💰 Deal: <b>CN¥1.2m</b> · Potential customer (20%) · closing Mar 2027" in chat.text
    with Session(database) as session:
        deal = session.exec(select(Opportunity)).one()
        assert (deal.value_minor, deal.currency, deal.stage, deal.status) == (
            120_000_000,
            "CNY",
            "potential",
            "open",
        )
        assert deal.close_month == date(2027, 3, 1)
        changes = session.exec(select(OpportunityChange)).all()
        assert [(c.field_name, c.new_value) for c in changes] == [("created", "potential")]


def test_updating_an_account_updates_its_deal_and_keeps_the_history(
    engine: Engine, database: Database
) -> None:
    chat = Chat(engine)
    chat.onboard()
    create_account(chat, "Nanfang Logistics")
    chat.press("5")
    chat.press("5")
    chat.press("No")
    chat.say("¥350,000")
    chat.say("next month")
    chat.say("/account Nanfang Logistics")
    chat.press("Manufacturing")
    chat.press("Target customer")
    chat.press("Existing customer")
    chat.press("High")
    chat.press("High")
    chat.press("9")
    chat.press("9")
    chat.press("No")
    assert "Now: <b>CN¥350k</b>, closing <b>Dec 2026</b>" in chat.text
    chat.say("1.5M")
    assert "Now: <b>Dec 2026</b>" in chat.text
    chat.say("Q2")
    assert "💰 Deal: <b>CN¥1.5m</b> · Target customer (60%) · closing Jun 2027" in chat.text
    with Session(database) as session:
        deal = session.exec(select(Opportunity)).one()
        assert (deal.value_minor, deal.close_month, deal.stage) == (
            150_000_000,
            date(2027, 6, 1),
            "target",
        )
        changes = session.exec(select(OpportunityChange).order_by(OpportunityChange.id)).all()
        assert [(c.field_name, c.old_value, c.new_value) for c in changes] == [
            ("created", None, "potential"),
            ("value", "35000000", "150000000"),
            ("close_month", "2026-12", "2027-06"),
            ("stage", "potential", "target"),
        ]


def test_a_deal_in_chinese_with_a_currency_word(engine: Engine, database: Database) -> None:
    chat = Chat(engine, language="zh")
    chat.onboard(role="销售代表", zone="上海")
    chat.say("/account")
    chat.say("华信钢铁")
    chat.say("1")
    chat.say("1")
    chat.press("潜在客户")
    chat.press("高")
    chat.press("低")
    chat.say("5")
    chat.say("5")
    chat.say("否")
    assert "这单生意预计多少钱" in chat.text
    chat.say("80万元")
    chat.say("下个月")
    assert "💰 商机：<b>¥80万</b>" in chat.text and "预计 2026年12月 成交" in chat.text
    with Session(database) as session:
        assert session.exec(select(Opportunity)).one().value_minor == 80_000_000
