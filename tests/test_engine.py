"""The dialog engine driven through the product's own dialogs: onboarding, teams, controls."""

from __future__ import annotations

import json

from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from dialogs.catalog import COMMANDS, DIALOGS
from dialogs.core.engine import Engine
from dialogs.core.io import Incoming
from storage.models import DialogState, Membership, User
from tests.conftest import FIXED_NOW
from tests.helpers import Chat


def stored_user(database: Database, user_id: str = "1001") -> User:
    with Session(database) as session:
        user = session.exec(select(User).where(User.platform_user_id == user_id)).one()
        session.expunge(user)
        return user


def test_onboarding_in_english_by_pressing_buttons(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.say("/start")
    assert "Hi! I'm <b>SalesCoach</b>" in chat.text
    chat.press("Li Lei")
    assert "What's your role?" in chat.text
    chat.press("Sales manager")
    chat.press("Singapore")
    assert "invite" in chat.text
    chat.press("Skip")
    assert "All set, Li Lei!" in chat.text
    assert "/newteam" in chat.text
    user = stored_user(database)
    assert (user.role, user.timezone, user.language) == ("manager", "Asia/Singapore", "en")
    assert user.onboarded_at is not None


def test_onboarding_in_chinese_by_typing(engine: Engine, database: Database) -> None:
    chat = Chat(engine, name="王芳", language="zh-hans")
    chat.say("/start")
    assert "你好" in chat.text
    chat.say("小王")
    assert "很高兴认识你，小王" in chat.text
    chat.say("1")  # the first role, typed as its number
    chat.say("UTC+8")
    chat.say("/skip")
    assert "设置完成" in chat.text
    user = stored_user(database)
    assert (user.display_name, user.role, user.timezone, user.language) == (
        "小王",
        "rep",
        "Etc/GMT-8",
        "zh",
    )


def test_first_text_message_starts_onboarding(engine: Engine) -> None:
    chat = Chat(engine)
    chat.say("hello")
    assert "what should I call you" in chat.text


def test_commands_wait_for_onboarding(engine: Engine) -> None:
    chat = Chat(engine)
    chat.say("/whoami")
    assert "finish setting you up" in chat.text
    assert "what should I call you" in chat.text


def test_back_returns_to_the_previous_question(engine: Engine) -> None:
    chat = Chat(engine)
    chat.say("/start")
    chat.press("Li Lei")
    chat.press("Trainee")
    assert "time zone" in chat.text
    chat.press("Back")
    assert "What's your role?" in chat.text
    chat.say("/back")
    assert "what should I call you" in chat.text
    chat.say("/back")
    assert "nothing to go back to" in chat.text


def test_required_question_cannot_be_skipped(engine: Engine) -> None:
    chat = Chat(engine)
    chat.say("/start")
    chat.say("/skip")
    assert "can't be skipped" in chat.text
    assert "what should I call you" in chat.text


def test_cancel_leaves_the_profile_untouched(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.say("/start")
    chat.press("Li Lei")
    chat.press("Sales rep")
    chat.say("/cancel")
    assert "Cancelled" in chat.text
    user = stored_user(database)
    assert user.role is None and user.onboarded_at is None
    chat.say("/cancel")
    assert "nothing to cancel" in chat.text


def test_stale_button_is_refused_and_the_question_repeated(engine: Engine) -> None:
    chat = Chat(engine)
    chat.say("/start")
    old_name_button = chat.button("Li Lei")
    chat.press("Li Lei")
    chat.send(Incoming.pressed(old_name_button))
    assert "older message" in chat.text
    assert "What's your role?" in chat.text  # still at the role question


def test_forged_button_data_changes_nothing(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.say("/start")
    chat.press("Li Lei")
    with Session(database) as session:
        before = session.get(DialogState, stored_user(database).id)
        assert before is not None
    for forged in ["", "x" * 200, "v2:admin", "v999:rep", "v2:../../etc", "不是按钮", "v2:~done"]:
        chat.send(Incoming.pressed(forged))
        assert "older message" in chat.text
    with Session(database) as session:
        after = session.get(DialogState, stored_user(database).id)
        assert after is not None
    assert (after.step, after.version, after.data) == (before.step, before.version, before.data)


def test_photo_where_text_is_expected_is_re_asked(engine: Engine) -> None:
    chat = Chat(engine)
    chat.say("/start")
    chat.send(Incoming.unsupported("photo"))
    assert "typed answer" in chat.text
    assert "what should I call you" in chat.text


def test_overlong_answer_is_refused(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.say("/start")
    chat.say("x" * 5000)
    assert "too long" in chat.text
    chat.press("Li Lei")
    chat.press("Sales rep")
    chat.press("Shanghai")
    chat.say("y" * 2001)
    assert "too long" in chat.text
    assert stored_user(database).onboarded_at is None


def test_bad_timezone_is_re_asked(engine: Engine) -> None:
    chat = Chat(engine)
    chat.say("/start")
    chat.press("Li Lei")
    chat.press("Sales rep")
    chat.say("Atlantis/Lost")
    assert "don't know that time zone" in chat.text
    chat.say("new york")
    assert "invite" in chat.text


def test_resume_with_a_new_engine_on_the_same_database(database: Database) -> None:
    first = Engine(database, dialogs=DIALOGS, commands=COMMANDS, clock=lambda: FIXED_NOW)
    chat = Chat(first)
    chat.say("/start")
    chat.press("Li Lei")
    chat.press("Sales rep")
    # A new process: nothing in memory survives, only the database.
    second = Engine(database, dialogs=DIALOGS, commands=COMMANDS, clock=lambda: FIXED_NOW)
    resumed = Chat(second)
    resumed.say("Hong Kong")
    assert "invite" in resumed.text
    resumed.say("/skip")
    assert stored_user(database).timezone == "Asia/Hong_Kong"


def test_each_answer_is_committed_with_the_state(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.say("/start")
    chat.say("Lee")
    with Session(database) as session:
        state = session.get(DialogState, stored_user(database).id)
        assert state is not None
        assert state.step == "role"
        assert json.loads(state.data)["name"] == "Lee"
        assert json.loads(state.history) == ["name"]


def test_group_chat_gets_a_note_and_nothing_is_stored(engine: Engine, database: Database) -> None:
    from dialogs.core.io import Sender

    replies = engine.handle(
        Sender("telegram", "77", "G", "en", private_chat=False), Incoming.typed("/start")
    )
    assert "message me privately" in replies[0].text
    with Session(database) as session:
        assert session.exec(select(User)).all() == []


def test_unknown_command_mid_dialog_keeps_the_question(engine: Engine) -> None:
    chat = Chat(engine)
    chat.say("/start")
    chat.say("/frobnicate")
    assert "don't know the command /frobnicate" in chat.text
    assert "what should I call you" in chat.text


def test_language_switch_during_onboarding_continues_it(engine: Engine) -> None:
    chat = Chat(engine)
    chat.say("/start")
    chat.say("/language")
    chat.press("中文")
    assert "之后我用中文" in chat.text
    assert "怎么称呼你" in chat.text


def test_help_depends_on_role(engine: Engine) -> None:
    rep = Chat(engine, user_id="1")
    rep.onboard(role="Sales rep")
    rep.say("/help")
    assert "/newteam" not in rep.text
    manager = Chat(engine, user_id="2")
    manager.onboard(role="Sales manager")
    manager.say("/help")
    assert "/newteam" in manager.text
    rep.say("/newteam Sneaky")
    assert "isn't available for your role" in rep.text


def test_team_invite_join_and_revoke(engine: Engine, database: Database) -> None:
    manager = Chat(engine, user_id="2", name="Zhang Wei")
    manager.onboard(role="Sales manager")
    manager.say("/newteam East <Region>")
    assert "Team <b>East &lt;Region&gt;</b> is ready" in manager.text
    link = next(word for word in manager.text.split() if word.startswith("https://t.me/"))
    code = link.rsplit("join_", 1)[1]
    assert len(code) >= 16  # 128 bits in URL-safe base64

    rep = Chat(engine, user_id="3", name="Chen Jing")
    rep.say(f"/start join_{code}")
    rep.press("Chen Jing")
    rep.press("Sales rep")
    rep.press("Shanghai")
    assert "joined <b>East &lt;Region&gt;</b>" in rep.text
    with Session(database) as session:
        members = session.exec(select(Membership)).all()
        assert sorted(m.role for m in members) == ["manager", "member"]

    manager.say("/revoke")
    assert "no longer works" in manager.text
    late = Chat(engine, user_id="4", name="Late")
    late.onboard()
    late.say(f"/join {link}")
    assert "isn't valid" in late.text


def test_wrong_invite_code_in_onboarding_can_be_retyped_or_skipped(engine: Engine) -> None:
    chat = Chat(engine)
    chat.say("/start join_notarealcode123456")
    assert "isn't valid" in chat.text
    chat.press("Li Lei")
    chat.press("Sales rep")
    chat.press("Shanghai")
    chat.say("https://t.me/test_bot?start=join_AAAAAAAAAAAAAAAAAAAAAA")
    assert "isn't valid" in chat.text
    chat.say("/skip")
    assert "All set" in chat.text


def test_timezone_command_changes_zone(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.onboard()
    chat.say("/timezone")
    assert "Asia/Shanghai" in chat.text
    chat.say("Europe/London")
    assert "Europe/London" in chat.text
    assert stored_user(database).timezone == "Europe/London"


def test_whoami_escapes_user_text(engine: Engine) -> None:
    chat = Chat(engine, name="<script>")
    chat.onboard(role="Trainee")
    chat.say("/whoami")
    assert "&lt;script&gt;" in chat.text and "<script>" not in chat.text


def test_a_command_mid_dialog_sets_it_aside_and_returns_to_it(engine: Engine) -> None:
    chat = Chat(engine)
    chat.onboard()
    chat.say("/timezone")
    chat.say("/language")
    assert "set the previous conversation aside" in chat.text
    chat.press("English")
    assert "Back to where we were" in chat.text
    assert "Your time zone is" in chat.text
    chat.say("/whoami")  # an instant command keeps the open question too
    assert "Your time zone is" in chat.text
    chat.say("/language")
    chat.say("/cancel")
    assert "Back to where we were" in chat.text
    chat.say("Tokyo")
    assert "Asia/Tokyo" in chat.text


# ----- onboarding: names as typed, "/join CODE" pasted at the invite question ------------


def invite_link(manager: Chat, team: str) -> str:
    """A manager's new team and its invite link."""
    manager.say(f"/newteam {team}")
    return next(word for word in manager.text.split() if word.startswith("https://t.me/"))


def test_a_typed_name_keeps_the_case_and_the_words_typed(
    engine: Engine, database: Database
) -> None:
    for user_id, platform_name in (("11", "emma"), ("12", "Emma Li")):
        chat = Chat(engine, user_id=user_id, name=platform_name)
        chat.say("/start")
        chat.say("Emma")
        assert "Nice to meet you, Emma!" in chat.text
        chat.press("Sales rep")
        chat.press("Shanghai")
        chat.say("/skip")
        assert stored_user(database, user_id).display_name == "Emma"
    # The suggestion is still one press, or its number, away.
    pressed = Chat(engine, user_id="13", name="emma")
    pressed.say("/start")
    pressed.press("emma")
    assert "Nice to meet you, emma!" in pressed.text
    numbered = Chat(engine, user_id="14", name="Olga")
    numbered.say("/start")
    numbered.say("1")
    assert "Nice to meet you, Olga!" in numbered.text


def test_join_command_pasted_at_the_invite_question_is_the_answer(
    engine: Engine, database: Database
) -> None:
    manager = Chat(engine, user_id="2", name="Zhang Wei")
    manager.onboard(role="Sales manager")
    link = invite_link(manager, "East")
    code = link.rsplit("join_", 1)[1]
    rep = Chat(engine, user_id="3", name="Chen Jing")
    rep.say("/start")
    rep.press("Chen Jing")
    rep.press("Sales rep")
    rep.press("Shanghai")
    assert "invite link or code" in rep.text
    rep.say(f"/join {code}")  # exactly as the invite shows it
    assert "finish setting you up" not in rep.text
    assert "All set, Chen Jing!" in rep.text and "joined <b>East</b>" in rep.text
    with Session(database) as session:
        rep_id = stored_user(database, "3").id
        assert session.exec(select(Membership).where(Membership.user_id == rep_id)).one()


def test_join_command_with_a_wrong_code_at_the_invite_question_asks_again(
    engine: Engine,
) -> None:
    rep = Chat(engine, user_id="3", name="Chen Jing")
    rep.say("/start")
    rep.press("Chen Jing")
    rep.press("Sales rep")
    rep.press("Shanghai")
    rep.say("/join AAAAAAAAAAAAAAAAAAAAAA")
    assert "isn't valid" in rep.text and "invite link or code" in rep.text
    rep.say("/skip")
    assert "All set" in rep.text


def test_join_command_before_the_invite_question_still_waits(engine: Engine) -> None:
    rep = Chat(engine, user_id="3", name="Chen Jing")
    rep.say("/start")
    rep.say("/join AAAAAAAAAAAAAAAAAAAAAA")
    assert "finish setting you up" in rep.text and "what should I call you" in rep.text


# ----- /skip and /back with nothing open ---------------------------------------------------


def test_skip_and_back_outside_a_conversation_say_so(engine: Engine) -> None:
    chat = Chat(engine)
    chat.onboard()
    chat.say("/skip")
    assert chat.text.startswith("Nothing to skip right now")
    assert "older message" not in chat.text
    chat.say("/back")
    assert chat.text.startswith("Nothing to go back to right now")
    chat.say("/cancel")
    assert "nothing to cancel" in chat.text
    zh = Chat(engine, user_id="2", name="王芳", language="zh")
    zh.onboard(role="销售代表", zone="上海")
    zh.say("/skip")
    assert "现在没有可以跳过的问题" in zh.text


# ----- joining a second team asks first and tells the old manager --------------------------


def memberships_of(database: Database, user_id: str) -> list[tuple[int, str]]:
    with Session(database) as session:
        user = session.exec(select(User).where(User.platform_user_id == user_id)).one()
        rows = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
        return sorted((row.team_id, row.role) for row in rows)


def test_joining_a_second_team_asks_and_staying_changes_nothing(
    engine: Engine, database: Database
) -> None:
    east, west = Chat(engine, "21", "Wang Fang"), Chat(engine, "22", "Zhou Min")
    east.onboard(role="Sales manager")
    west.onboard(role="Sales manager")
    east_link, west_link = invite_link(east, "East"), invite_link(west, "West")
    rep = Chat(engine, "23", "Li Lei")
    rep.onboard()
    rep.say(f"/join {east_link}")
    assert "joined <b>East</b>" in rep.text
    rep.say(f"/join {west_link}")
    assert "You're in team <b>East</b>. Join <b>West</b> instead? You'll leave <b>East</b>." in (
        rep.text
    )
    assert rep.labels() == ["✅ Join West", "✖ Stay in East"]
    assert memberships_of(database, "23") == [(1, "member")]  # nothing changed yet
    switch = rep.button("Join West")
    rep.press("Stay in East")
    assert "you stay in <b>East</b>" in rep.text
    assert memberships_of(database, "23") == [(1, "member")]
    # A forged "yes" (another token, or another invite's id) does nothing.
    invite_id = switch.split(":")[0][2:]
    for forged in (f"@j{invite_id}:{'0' * 20}", f"@j1:{switch.split(':')[1]}", "@j999:stay"):
        rep.send(Incoming.pressed(forged))
        assert "older message" in rep.text, forged
    assert memberships_of(database, "23") == [(1, "member")]
    rep.send(Incoming.pressed(switch))
    assert "You've left <b>East</b>" in rep.text and "joined <b>West</b>" in rep.text
    assert memberships_of(database, "23") == [(2, "member")]
    rep.send(Incoming.pressed(switch))  # the same button again
    assert "already a member of <b>West</b>" in rep.text
    # Managers keep their own teams; only the rep's membership moved.
    assert memberships_of(database, "21") == [(1, "manager")]


def test_the_switch_button_stops_working_when_the_invite_is_revoked(
    engine: Engine, database: Database
) -> None:
    east, west = Chat(engine, "21", "Wang Fang"), Chat(engine, "22", "Zhou Min")
    east.onboard(role="Sales manager")
    west.onboard(role="Sales manager")
    east_link, west_link = invite_link(east, "East"), invite_link(west, "West")
    rep = Chat(engine, "23", "Li Lei")
    rep.onboard()
    rep.say(f"/join {east_link}")
    rep.say(f"/join {west_link}")
    switch = rep.button("Join West")
    west.say("/revoke")
    rep.send(Incoming.pressed(switch))
    assert "isn't valid" in rep.text
    assert memberships_of(database, "23") == [(1, "member")]
