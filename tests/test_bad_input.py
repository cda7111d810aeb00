"""Bad input found by testers: odd digits, invisible names, fractions, long escaped text."""

from __future__ import annotations

import html
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from dialogs.core.answers import has_letter, match_option, read_scale, whole_number
from dialogs.core.engine import Engine
from dialogs.core.steps import Option
from dialogs.core.texts import Texts, split_message
from dialogs.users.quiet_hours import parse_clock
from storage.models import Account, Comment, DialogState, User
from tests.fake_telegram import parse_html
from tests.helpers import Chat
from tests.test_team import Teams, deliver_due, teams  # noqa: F401  (the fixture)
from tests.test_visit import add_account, rep, to_objective

ODD_DIGITS = ["①", "②", "⑩", "²", "¹", "³", "⁹", "₂", "½", "Ⅲ", "1①", "²0", "a²"]
OPTIONS = [Option(key, key, literal=True) for key in ("alpha", "beta", "gamma")]


def state_of(database: Database, chat: Chat) -> tuple[str | None, str | None, dict[str, object]]:
    with Session(database) as session:
        user = session.exec(select(User).where(User.platform_user_id == chat.sender.user_id)).one()
        state = session.get(DialogState, user.id)
        assert state is not None
        return state.dialog, state.step, json.loads(state.data)


# ----- 2. circled, superscript and other digits that int() refuses -----------------------


@pytest.mark.parametrize("typed", ODD_DIGITS)
def test_odd_digits_pick_no_option_and_no_scale(typed: str) -> None:
    assert match_option(typed, OPTIONS, Texts("en")) is None
    assert read_scale(typed).error == "errors.not_a_scale"
    assert whole_number(typed) is None


@pytest.mark.parametrize(
    ("typed", "number"), [("2", 2), ("２", 2), ("١٠", 10), ("𝟙", 1), ("007", 7)]
)
def test_decimal_digits_of_any_script_are_numbers(typed: str, number: int) -> None:
    assert whole_number(typed) == number
    assert read_scale(typed).value == number


@pytest.mark.parametrize("typed", ["①:00", "9:①", "²", "⑨", "²¹:⁰⁰", "21:00²", "½:30"])
def test_odd_digits_are_no_clock_time(typed: str) -> None:
    assert parse_clock(typed) is None


def test_typed_choices_with_odd_digits_are_asked_again(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.say("/start")
    chat.say("Li Lei")
    for typed in ("①", "²", "1²"):
        before = state_of(database, chat)
        chat.say(typed)
        assert "type its number (1–3)" in chat.text and "What's your role?" in chat.text
        assert state_of(database, chat) == before
    chat.say("２")  # a full-width 2 is a 2
    assert state_of(database, chat)[1] == "timezone"


def test_account_picker_takes_a_superscript_as_part_of_a_name(
    engine: Engine, database: Database
) -> None:
    chat = rep(engine)
    add_account(database, "Huaxin Steel")
    chat.say("/visit")
    chat.say("a²")  # not the key of account 2: the name of a new account
    assert "Which industry" in chat.text
    assert state_of(database, chat)[2]["new_account_name"] == "a²"
    chat.say("/cancel")
    chat.say("/visit")
    chat.say("²")
    assert "needs at least one letter" in chat.text and "Which account" in chat.text


@pytest.mark.parametrize("command", ["/settings", "/digestsettings"])
def test_clock_times_with_odd_digits_are_asked_again(engine: Engine, command: str) -> None:
    chat = Chat(engine)
    chat.onboard(role="Sales manager")
    chat.say(command)
    chat.press("Quiet hours" if command == "/settings" else "Time")
    for typed in ("①:00", "9:①", "²"):
        chat.say(typed)
        assert "like 21:00" in chat.text or "like 08:30" in chat.text
    chat.say("21:00")
    assert "Saved" in chat.text or "at <b>21:00</b>" in chat.text or "end at" in chat.text


# ----- 3. long escaped text --------------------------------------------------------------


def test_split_never_cuts_an_entity() -> None:
    original = "&<>" * 3334  # 10,002 characters
    parts = split_message(html.escape(original, quote=False), 4096)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= 4096
        parse_html(part)  # a cut entity ("&am" + "p;") fails to parse, as in Telegram
    assert html.unescape("".join(parts)) == original


def test_split_closes_and_reopens_a_tag_around_a_cut() -> None:
    text = "<b>" + html.escape("&<>\"'" * 2000) + "</b>"
    parts = split_message(text, 4096)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= 4096 and part.startswith("<b>") and part.endswith("</b>")
        parse_html(part)
    assert "".join(parse_html(part).text for part in parts) == "&<>\"'" * 2000


_SEGMENT = st.tuples(
    st.sampled_from(["", "b", "i", "code"]),
    st.text(alphabet=st.sampled_from("ab 中\n&<>\"'"), max_size=300),
)


@given(st.lists(_SEGMENT, max_size=12), st.integers(40, 400))
def test_split_keeps_every_part_valid_html(segments: list[tuple[str, str]], limit: int) -> None:
    text = "".join(
        f"<{tag}>{html.escape(plain)}</{tag}>" if tag else html.escape(plain)
        for tag, plain in segments
    )
    parts = split_message(text, limit)
    for part in parts:
        assert len(part) <= limit
        assert parse_html(part).text.strip()  # valid, and not empty
    shown = "".join(parse_html(part).text for part in parts)
    assert "".join(shown.split()) == "".join(parse_html(text).text.split())


def test_a_long_comment_full_of_markup_characters_arrives_whole(
    teams: Teams,  # noqa: F811
    engine: Engine,
    database: Database,
) -> None:
    comment = "&<>\"'" * 1000  # 5,000 characters, 23,000 once escaped
    boss = teams.boss
    boss.say("/team")
    boss.press("Li Lei")
    boss.press("1. Acme <Steel>")
    boss.press("Reply with a comment")
    boss.say(comment)
    assert "Sent to <b>Li Lei</b>" in boss.text
    with Session(database) as session:
        assert session.exec(select(Comment)).one().text == comment
    [message] = deliver_due(engine)
    parts = split_message(message.text, 4096)
    assert all(len(part) <= 4096 for part in parts)
    shown = "".join(parse_html(part).text for part in parts)
    assert comment in shown


# ----- 4. invisible and filler names -----------------------------------------------------

INVISIBLE = ["ㅤ", "\u200b", ".", "\u3164\u3164", "\u115f", "\u1160", "\uffa0", "\u2060", "…", "😀"]


@pytest.mark.parametrize("typed", INVISIBLE)
def test_names_need_a_letter(typed: str) -> None:
    assert not has_letter(typed)


@pytest.mark.parametrize("typed", ["Li", "李", "O'Neil", "ㅤAnna", "\u200b王芳", "3M", "Ω"])
def test_names_with_a_letter_are_fine(typed: str) -> None:
    assert has_letter(typed)


def test_onboarding_refuses_an_invisible_name(engine: Engine, database: Database) -> None:
    chat = Chat(engine, language="zh")
    chat.say("/start")
    for typed in ("ㅤ", "\u200b", ".", "\u200bㅤ ", "。", "😀"):
        chat.say(typed)
        # Nothing visible at all is no answer; dots and emoji are no name.
        assert "至少要有一个汉字或字母" in chat.text or "没有收到回答" in chat.text
        assert "怎么称呼你" in chat.text
        assert state_of(database, chat)[1] == "name"
    chat.say("\u200b李雷ㅤ")
    assert state_of(database, chat)[2]["name"] == "李雷"


def test_an_invisible_telegram_name_is_not_offered(engine: Engine, database: Database) -> None:
    chat = Chat(engine, name="ㅤ")
    chat.say("/start")
    assert "Type your name" in chat.text
    assert chat.labels() == ["✖ Cancel"]
    chat.say("keep")  # the old "keep" key no longer smuggles the filler name in
    assert "needs at least one letter" in chat.text
    chat.say("Anna")
    assert state_of(database, chat)[2]["name"] == "Anna"


def test_visit_objective_needs_a_letter(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    add_account(database, "Huaxin Steel")
    to_objective(chat)
    assert "objective of this visit" in chat.text
    for typed in (".", "\u200b", "ㅤ", "👍", "!!!"):
        chat.say(typed)
        assert "write the objective in words" in chat.text or "didn't get an answer" in chat.text
        assert state_of(database, chat)[1] == "objective"
    chat.say("Director Wang agrees to a two-week trial")
    assert state_of(database, chat)[1] != "objective"


def test_new_account_names_need_a_letter(engine: Engine, database: Database) -> None:
    chat = rep(engine)
    chat.say("/visit .")  # a name given with the command
    assert "account name needs at least one letter" in chat.text
    assert state_of(database, chat)[0] is None
    chat.say("/visit ㅤ")  # an invisible name is no name: no accounts yet, so a new one
    assert "What is the account called?" in chat.text
    for typed in ("ㅤ", "\u200b", ".", "…", "🏭"):
        chat.say(typed)
        assert "needs at least one letter" in chat.text or "didn't get an answer" in chat.text
        assert state_of(database, chat)[1] == "new_account_name"
    chat.say("\u200bHuaxin Steel")
    assert state_of(database, chat)[2]["new_account_name"] == "Huaxin Steel"
    add_account(database, "Acme")
    chat.say("/cancel")
    chat.say("/visit")
    chat.say("-")  # typed in the picker
    assert "account name needs at least one letter" in chat.text
    assert state_of(database, chat)[1] == "account"
    with Session(database) as session:
        assert [account.name for account in session.exec(select(Account))] == ["Acme"]


# ----- 5. fractions of minutes -----------------------------------------------------------


@pytest.mark.parametrize("typed", ["1.5", "0.5", "1,5", "30.25"])
def test_lead_times_are_whole_minutes(engine: Engine, database: Database, typed: str) -> None:
    chat = Chat(engine)
    chat.onboard()
    chat.say("/settings")
    chat.press("Brief lead time")
    chat.say(typed)
    assert "whole number of minutes from 0 to 1440" in chat.text or "type a number" in chat.text
    assert state_of(database, chat)[1] == "brief"
    chat.say("45")
    with Session(database) as session:
        user = session.exec(select(User)).one()
        assert user.brief_lead_minutes == 45


# ----- holes outside this change's files, kept visible until they are closed -------------


def test_a_typed_zone_key_with_a_superscript_is_asked_again(engine: Engine) -> None:
    chat = Chat(engine)
    chat.say("/start")
    chat.say("Li Lei")
    chat.say("1")
    chat.say("tz²")
    assert "don't know that time zone" in chat.text


def test_a_team_argument_with_a_superscript_is_refused(engine: Engine) -> None:
    chat = Chat(engine)
    chat.onboard(role="Sales manager")
    chat.say("/newteam East")
    chat.say("/team u²")
    assert chat.replies


def test_the_account_dialog_name_step_needs_a_letter(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.onboard()
    chat.say("/account")
    chat.say(".")
    assert state_of(database, chat)[1] == "name"
