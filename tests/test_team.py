"""/team: the roster, removing a member, reading debriefs, coaching comments, and access control."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from bot.reminders import DispatchConfig, Dispatcher
from dialogs.core import callbacks
from dialogs.core.engine import Engine
from dialogs.core.io import Incoming, Outgoing
from storage.models import Comment, Debrief, Membership, Reminder, User
from tests.conftest import FIXED_NOW
from tests.helpers import Chat
from tests.test_digest import Seed


@dataclass
class Teams:
    """East (Wang Fang: Li Lei, trainee Tina) and West (Zhou Min: Olga), with debriefs."""

    boss: Chat
    lee: Chat
    tina: Chat
    west_boss: Chat
    olga: Chat
    lee_debrief: int
    olga_debrief: int


def user_of(database: Database, chat: Chat) -> User:
    with Session(database) as session:
        return session.exec(select(User).where(User.platform_user_id == chat.sender.user_id)).one()


def join(database: Database, chat: Chat, team_id: int) -> None:
    with Session(database) as session:
        session.add(Membership(team_id=team_id, user_id=user_of(database, chat).id or 0))
        session.commit()


@pytest.fixture
def teams(engine: Engine, database: Database) -> Teams:
    boss = Chat(engine, "3001", "Wang Fang")
    boss.onboard(role="Sales manager")
    boss.say("/newteam East")
    west_boss = Chat(engine, "3101", "Zhou Min")
    west_boss.onboard(role="Sales manager")
    west_boss.say("/newteam West")
    lee, tina, olga = (
        Chat(engine, "3002", "Li Lei"),
        Chat(engine, "3003", "Tina"),
        Chat(engine, "3102", "Olga"),
    )
    lee.onboard()
    tina.onboard(role="Trainee")
    olga.onboard()
    join(database, lee, 1)
    join(database, tina, 1)
    join(database, olga, 2)
    seed = Seed(database)
    lee_user, olga_user = user_of(database, lee), user_of(database, olga)
    acme = seed.account(lee_user, "Acme <Steel>")
    seed.debrief(
        lee_user,
        acme,
        FIXED_NOW - timedelta(days=3),
        "continuation",
        happened="They liked the demo but wanted to think.",
        improve="Ask for a concrete next step.",
    )
    lee_debrief = seed.debrief(
        lee_user,
        acme,
        FIXED_NOW - timedelta(days=1),
        "advance",
        objective="Agree a trial",
        happened="The buyer agreed to a two-week trial.",
        why_customer="Their line is down twice a week.",
    )
    olga_debrief = seed.debrief(
        olga_user,
        seed.account(olga_user, "Secret West Deal"),
        FIXED_NOW - timedelta(days=1),
        "order",
        happened="Olga's confidential notes",
    )
    return Teams(boss, lee, tina, west_boss, olga, lee_debrief.id or 0, olga_debrief.id or 0)


def forge(chat: Chat, key: str) -> Incoming:
    """A button press with the current prompt's version but a key typed by an attacker."""
    versions = [
        match.group(1)
        for reply in chat.replies
        for row in reply.buttons
        for button in row
        if (match := re.match(r"^v(\d+):", button.data))
    ]
    assert versions, "no dialog button to copy the version from"
    return Incoming.pressed(f"v{versions[-1]}:{key}")


def is_stale(replies: list[Outgoing]) -> bool:
    return any("belongs to an older message" in reply.text for reply in replies)


def leaks(chat: Chat) -> bool:
    return any(word in chat.text for word in ("Olga", "Secret West", "confidential"))


# ----- the roster ----------------------------------------------------------------------


def test_team_lists_members_with_role_and_last_activity(teams: Teams) -> None:
    teams.boss.say("/team")
    text = teams.boss.text
    assert "👥 <b>East</b> · 2 members" in text
    assert "⭐ <b>Wang Fang</b>, Sales manager" in text
    assert "👤 <b>Li Lei</b>, Sales rep · last active" in text
    assert "👤 <b>Tina</b>, Trainee · no activity yet" in text
    assert "/invite" in text and "/revoke" in text
    assert teams.boss.labels()[:3] == ["📝 Li Lei", "📝 Tina", "🚫 Remove a member"]
    assert not leaks(teams.boss)


def test_a_manager_of_two_teams_picks_one_first(teams: Teams) -> None:
    teams.boss.say("/newteam North")
    teams.boss.say("/team")
    assert "Which team?" in teams.boss.text
    assert {"East", "North"} <= set(teams.boss.labels())
    teams.boss.press("North")
    assert (
        "<b>North</b> · 0 members" in teams.boss.text and "Nobody has joined yet" in teams.boss.text
    )


def test_removing_a_member_asks_first(teams: Teams, database: Database) -> None:
    teams.boss.say("/team")
    teams.boss.press("Remove a member")
    assert "Who should leave <b>East</b>?" in teams.boss.text
    teams.boss.press("Tina")
    assert "Remove <b>Tina</b> from <b>East</b>?" in teams.boss.text
    teams.boss.press("No")
    assert "stays in the team" in teams.boss.text
    teams.boss.say("/team")
    teams.boss.press("Remove a member")
    teams.boss.press("Tina")
    teams.boss.press("Yes")
    assert "<b>Tina</b> is no longer in <b>East</b>" in teams.boss.text
    teams.boss.say("/team")
    assert "Tina" not in teams.boss.text and "1 member" in teams.boss.text
    with Session(database) as session:
        tina = user_of(database, teams.tina)
        assert session.exec(select(Membership).where(Membership.user_id == tina.id)).first() is None


# ----- reading debriefs and commenting --------------------------------------------------


def deliver_due(engine: Engine) -> list[Outgoing]:
    """Run the reminder dispatcher once, collecting what it would send."""
    delivered: list[Outgoing] = []

    async def deliver(_user: User, outgoing: Outgoing) -> None:
        delivered.append(outgoing)

    dispatcher = Dispatcher(engine, "telegram", deliver, DispatchConfig(per_chat_interval=0.0))
    asyncio.run(dispatcher.run_once())
    return delivered


def test_comment_round_trip_with_a_button_back_to_the_debrief(
    teams: Teams, engine: Engine, database: Database
) -> None:
    boss, lee = teams.boss, teams.lee
    boss.say("/team")
    boss.press("Li Lei")
    assert "<b>Li Lei</b>'s recent debriefs" in boss.text
    assert "1. Sun 22 Nov 2026" in boss.text and "Acme &lt;Steel&gt; · Advance" in boss.text
    assert "2. Fri 20 Nov 2026" in boss.text and "Continuation" in boss.text
    boss.press("1. Acme <Steel>")
    card = boss.text
    assert "📝 <b>Debrief · Acme &lt;Steel&gt;</b>" in card
    assert "<b>What happened</b>\nThe buyer agreed to a two-week trial." in card
    assert "Their line is down twice a week." in card
    boss.press("Reply with a comment")
    assert "Your comment to <b>Li Lei</b>" in boss.text
    boss.say("Good trial close. Next time, ask who else must approve the purchase.")
    assert "Sent to <b>Li Lei</b>" in boss.text
    with Session(database) as session:
        comment = session.exec(select(Comment)).one()
        assert comment.debrief_id == teams.lee_debrief
        reminder = session.exec(select(Reminder).where(Reminder.kind == "comment")).one()
        assert reminder.dedup_key == f"comment:{comment.id}" and reminder.status == "pending"
    [message] = deliver_due(engine)
    assert "<b>Wang Fang</b> commented on your debrief of <b>Acme &lt;Steel&gt;</b>" in message.text
    assert "ask who else must approve" in message.text
    [[button]] = message.buttons
    assert button.data == f"@d{teams.lee_debrief}:view"
    assert deliver_due(engine) == []  # delivered once
    lee.replies = [message]
    lee.press("Open the debrief")
    assert "💬 <b>Comments</b>" in lee.text
    assert "<b>Wang Fang</b>" in lee.text and "ask who else must approve" in lee.text
    # The manager sees the comment with the debrief, and the count in the list.
    boss.say("/team")
    boss.press("Li Lei")
    assert "Advance · 💬 1" in boss.text
    boss.press("1. Acme")
    assert "ask who else must approve" in boss.text
    boss.press("Other debriefs")
    boss.press("2. Acme")
    assert "They liked the demo" in boss.text
    boss.press("Done")
    assert "Send /team whenever" in boss.text


def test_the_digest_button_opens_a_members_debriefs(teams: Teams, database: Database) -> None:
    lee = user_of(database, teams.lee)
    replies = teams.boss.send(
        Incoming.pressed(callbacks.encode_action("m", lee.id or 0, "debriefs"))
    )
    assert "<b>Li Lei</b>'s recent debriefs" in replies[-1].text


# ----- access control: forged buttons and typed ids reveal nothing ------------------------


def test_forged_member_keys_and_typed_ids_reveal_nothing(teams: Teams, database: Database) -> None:
    olga = user_of(database, teams.olga)
    boss = teams.boss
    boss.say("/team")
    replies = boss.send(forge(boss, f"u{olga.id}"))
    assert is_stale(replies) and not leaks(boss)
    boss.say(f"u{olga.id}")
    assert "Please pick one of the buttons" in boss.text and not leaks(boss)
    boss.say(str(olga.id))
    assert not leaks(boss)
    boss.say("/team")
    boss.press("Remove a member")
    replies = boss.send(forge(boss, f"u{olga.id}"))
    assert is_stale(replies) and not leaks(boss)
    with Session(database) as session:
        assert session.exec(select(Membership).where(Membership.user_id == olga.id)).one()


def test_forged_debrief_keys_reveal_nothing(teams: Teams) -> None:
    boss = teams.boss
    boss.say("/team")
    boss.press("Li Lei")
    replies = boss.send(forge(boss, f"d{teams.olga_debrief}"))
    assert is_stale(replies) and not leaks(boss)
    boss.say(f"d{teams.olga_debrief}")
    assert not leaks(boss)


def test_forged_action_buttons_reveal_nothing(teams: Teams, database: Database) -> None:
    olga = user_of(database, teams.olga)
    lee = user_of(database, teams.lee)
    boss, west_boss = teams.boss, teams.west_boss
    for payload in (
        callbacks.encode_action("m", olga.id or 0, "debriefs"),
        callbacks.encode_action("d", teams.olga_debrief, "view"),
        callbacks.encode_action("m", lee.id or 0, "delete"),
        callbacks.encode_action("d", 99999, "view"),
    ):
        replies = boss.send(Incoming.pressed(payload))
        assert is_stale(replies) and not leaks(boss), payload
    # The other manager cannot open East's people either.
    for payload in (
        callbacks.encode_action("m", lee.id or 0, "debriefs"),
        callbacks.encode_action("d", teams.lee_debrief, "view"),
    ):
        replies = west_boss.send(Incoming.pressed(payload))
        assert (
            is_stale(replies) and "Li Lei" not in west_boss.text and "trial" not in west_boss.text
        )


def test_a_rep_sees_only_their_own_debriefs(teams: Teams) -> None:
    lee = teams.lee
    replies = lee.send(Incoming.pressed(callbacks.encode_action("d", teams.olga_debrief, "view")))
    assert is_stale(replies) and not leaks(lee)
    replies = lee.send(Incoming.pressed(callbacks.encode_action("d", teams.lee_debrief, "view")))
    assert "two-week trial" in replies[0].text
    tina = teams.tina
    replies = tina.send(Incoming.pressed(callbacks.encode_action("d", teams.lee_debrief, "view")))
    assert is_stale(replies) and "trial" not in tina.text
    for command in ("/team", "/digest", "/digestsettings"):
        assert "isn't available for your role" in lee.say(command)[0].text


def test_a_removed_member_cannot_be_opened_from_an_old_button(
    teams: Teams, database: Database
) -> None:
    tina = user_of(database, teams.tina)
    boss = teams.boss
    boss.say("/team")
    old_button = boss.button("Tina")
    boss.say("/cancel")
    boss.say("/team")
    boss.press("Remove a member")
    boss.press("Tina")
    boss.press("Yes")
    assert is_stale(boss.send(Incoming.pressed(old_button)))
    replies = boss.send(Incoming.pressed(callbacks.encode_action("m", tina.id or 0, "debriefs")))
    assert is_stale(replies)


def test_comment_is_refused_when_the_rep_left_meanwhile(teams: Teams, database: Database) -> None:
    boss = teams.boss
    boss.say("/team")
    boss.press("Li Lei")
    boss.press("1. Acme")
    boss.press("Reply with a comment")
    with Session(database) as session:
        lee = user_of(database, teams.lee)
        membership = session.exec(select(Membership).where(Membership.user_id == lee.id)).one()
        session.delete(membership)
        session.commit()
    boss.say("Nice work")
    assert "isn't a member of this team" in boss.text
    with Session(database) as session:
        assert session.exec(select(Comment)).first() is None
        assert session.get(Debrief, teams.lee_debrief) is not None


# ----- a comment held by the rep's quiet hours, and ids typed by hand ----------------------


def set_user(database: Database, chat: Chat, **fields: str) -> None:
    with Session(database) as session:
        user = session.exec(select(User).where(User.platform_user_id == chat.sender.user_id)).one()
        for name, value in fields.items():
            setattr(user, name, value)
        session.add(user)
        session.commit()


def comment_on_lee(boss: Chat, comment_label: str = "Reply with a comment") -> None:
    boss.say("/team")
    boss.press("Li Lei")
    boss.press("1. Acme")
    boss.press(comment_label)
    boss.say("Good trial close.")


def test_a_comment_in_the_reps_quiet_hours_says_when_it_arrives(
    teams: Teams, engine: Engine, database: Database
) -> None:
    # 17:00 in Shanghai: inside quiet hours 16:00–07:30.
    set_user(database, teams.lee, quiet_start="16:00", quiet_end="07:30")
    comment_on_lee(teams.boss)
    text = teams.boss.text
    assert "Sent to <b>Li Lei</b>" in text
    assert "they'll get it at <b>07:30</b> (their time)" in text
    assert deliver_due(engine) == []  # held, as the manager was told
    with Session(database) as session:
        reminder = session.exec(select(Reminder).where(Reminder.kind == "comment")).one()
        assert reminder.due_at.replace(tzinfo=None) == (
            FIXED_NOW.replace(hour=23, minute=30, tzinfo=None)  # 07:30 the next day in Shanghai
        )


def test_a_held_comment_is_explained_in_the_managers_language(
    teams: Teams, database: Database
) -> None:
    set_user(database, teams.lee, quiet_start="16:00", quiet_end="07:30")
    set_user(database, teams.boss, language="zh")
    comment_on_lee(teams.boss, "写点评")
    assert "已发送给 <b>Li Lei</b>" in teams.boss.text
    assert "将在 <b>07:30</b>（对方当地时间）收到" in teams.boss.text


def test_a_comment_outside_quiet_hours_goes_now(teams: Teams) -> None:
    comment_on_lee(teams.boss)
    assert "Sent to <b>Li Lei</b>. They'll get it with a button" in teams.boss.text
    assert "their time" not in teams.boss.text


def test_team_with_someone_elses_member_says_there_is_no_such_member(
    teams: Teams, database: Database
) -> None:
    olga = user_of(database, teams.olga)
    boss = teams.boss
    for typed in (f"/team u{olga.id}", f"/team d{teams.olga_debrief}", "/team u99999"):
        replies = boss.say(typed)
        assert "No such member in your team." in boss.text, typed
        assert not is_stale(replies) and not leaks(boss), typed
    lee = user_of(database, teams.lee)
    boss.say(f"/team u{lee.id}")  # one of their own still opens
    assert "<b>Li Lei</b>'s recent debriefs" in boss.text


def test_the_manager_sees_the_coachs_judgement_beside_the_reps_claim(
    teams: Teams, database: Database
) -> None:
    lee_user = user_of(database, teams.lee)
    seed = Seed(database)
    seed.debrief(
        lee_user,
        seed.account(lee_user, "Beta Pumps"),
        FIXED_NOW - timedelta(hours=2),
        "advance",
        judged_outcome="continuation",
        happened="He said he'd think about sharing the numbers.",
    )
    boss = teams.boss
    boss.say("/team")
    boss.press("Li Lei")
    assert "Beta Pumps · Continuation (the rep said Advance)" in boss.text
    boss.press("1. Beta Pumps")
    assert "Continuation (the rep said Advance)" in boss.text
