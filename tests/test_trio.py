"""Role-play in threes (/trio): rotation, the observer's form, messages to the others, bad input."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine as Database
from sqlmodel import Session, col, select

from bot.reminders import DispatchConfig, Dispatcher
from dialogs.catalog import ACTIONS, COMMANDS, DIALOGS
from dialogs.core.engine import Engine
from dialogs.core.io import Incoming, Outgoing
from dialogs.core.steps import Services
from dialogs.core.texts import Texts
from dialogs.field.reminder_messages import compose
from dialogs.manager.digest import build_digest, digest_html
from playbooks.loader import check_directory, load_playbooks
from storage.db import make_engine, transaction
from storage.migrate import upgrade
from storage.models import Membership, Reminder, Team, TrioMember, TrioRound, TrioSession, User
from storage.reminders import claim_due, mark_sent
from storage.trio import (
    Joined,
    create_session,
    find_by_code,
    join,
    rounds_as_rep,
    rounds_between,
    seats_for_round,
    start_round,
)
from tests.conftest import FIXED_NOW
from tests.helpers import Chat

PB = load_playbooks()
ITEMS = list(PB.observer_form)


@dataclass
class Clock:
    """A clock the test moves forward."""

    now = FIXED_NOW

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def database(any_database: str) -> Iterator[Database]:
    """Every trio test here runs on a fresh SQLite file and on a fresh PostgreSQL database."""
    engine = make_engine(any_database)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def trio_engine(database: Database, clock: Clock) -> Engine:
    return Engine(
        database,
        dialogs=DIALOGS,
        commands=COMMANDS,
        actions=ACTIONS,
        services=Services(invite_link=lambda code: f"https://t.me/test_bot?start=join_{code}"),
        clock=clock,
    )


def deliver(engine: Engine, chat: Chat) -> list[Outgoing]:
    """What the dispatcher would send this person now (their due reminder rows)."""
    messages = []
    with transaction(engine.database) as session:
        ids = claim_due(session, engine.clock(), 100, "telegram", chat.sender.user_id)
        for reminder_id in ids:
            reminder = session.get(Reminder, reminder_id)
            assert reminder is not None
            user = session.get(User, reminder.user_id)
            assert user is not None
            message = compose(engine.context_for(session, user), reminder)
            if message is not None:
                messages.append(message)
            mark_sent(session, reminder, engine.clock())
    chat.replies = messages
    return messages


def code_in(text: str) -> str:
    match = re.search(r"(?:/trio |<code>)([A-Z0-9]{6})", text)
    assert match, text
    return match.group(1)


def people(engine: Engine, names: tuple[str, ...] = ("Ann", "Ben", "Cai")) -> list[Chat]:
    chats = []
    for number, name in enumerate(names):
        chat = Chat(engine, str(7001 + number), name)
        chat.onboard(role="Trainee")
        chats.append(chat)
    return chats


def rounds(database: Database) -> list[TrioRound]:
    with Session(database) as session:
        return list(session.exec(select(TrioRound).order_by(col(TrioRound.number))))


def user_id(database: Database, chat: Chat) -> int:
    with Session(database) as session:
        user = session.exec(select(User).where(User.platform_user_id == chat.sender.user_id)).one()
        return user.id or 0


def score_button(chat: Chat, index: int, score: int) -> str:
    """The data of the button giving item `index` a `score` on the form shown last, turning
    the form's page first when the item is on the other one."""
    for _ in range(2):
        for row in chat.replies[-1].buttons:
            for button in row:
                if button.data.endswith(f"i{index}s{score}"):
                    return button.data
        chat.send(Incoming.pressed(chat.button("▸")))
        assert chat.replies[0].replace, "turning the page redraws the form in place"
    raise AssertionError(f"no button for item {index} and score {score}")


def fill_form(chat: Chat, scores: list[int]) -> None:
    """Press 7, 5 or 3 on every item of the form shown last."""
    for index, score in enumerate(scores):
        chat.send(Incoming.pressed(score_button(chat, index, score)))
        assert chat.replies[0].replace, "a press redraws the form in place"
        assert f"✔ {index + 1}: {score}" in chat.labels()


def start_trio(engine: Engine) -> tuple[list[Chat], str]:
    ann, ben, cai = people(engine)
    ann.say("/trio")
    assert "the 14-item form" in ann.text and "98 in all" in ann.text
    ann.press("Phone call to book a first visit")
    code = code_in(ann.text)
    assert "https://t.me/test_bot?start=trio-" + code in ann.text
    ben.say(f"/trio {code.lower()}")  # typed in lower case, still found
    assert "1 more" not in ben.text and "(2/3)" in ben.text
    assert "Ben joined" in deliver(engine, ann)[0].text
    cai.say(f"/trio {code}")
    return [ann, ben, cai], code


# ----- rotation -----------------------------------------------------------------------------


def test_roles_rotate_so_everyone_plays_each_role_once() -> None:
    played = [seats_for_round(number) for number in (1, 2, 3)]
    for role in range(3):
        assert sorted(roles[role] for roles in played) == [0, 1, 2]
    for roles in played:
        assert len(set(roles)) == 3


def test_the_form_has_the_seeds_fourteen_items_worth_98() -> None:
    labels = [item.label.zh for item in PB.observer_form.values()]
    assert labels == [
        "自信", "内容充实", "条理分明", "清晰表达", "声线", "语调", "节奏",
        "态度", "说话流畅", "眼神接触", "面部表情", "身体语言", "时间控制", "面谈气氛",
    ]  # fmt: skip
    assert set(PB.trio_cards) == set(PB.scenarios)
    seeds = ("phone-appointment", "first-visit-intro", "needs-probing", "solution-presentation-gm")
    assert all(seed in PB.trio_cards for seed in seeds)


# ----- a whole trio -------------------------------------------------------------------------


def test_three_rounds_with_rotating_roles_reach_everyone(
    trio_engine: Engine, database: Database, clock: Clock
) -> None:
    (ann, ben, cai), _code = start_trio(trio_engine)
    # Cai joined last: round 1 starts, Cai is the observer (seat 2) and sees the form now.
    assert "All three are here" in cai.text and "you are the observer" in cai.text
    [ann_card] = deliver(trio_engine, ann)
    assert "you are the rep" in ann_card.text and "Hengyuan Logistics" in ann_card.text
    [ben_card] = deliver(trio_engine, ben)
    assert "you are the customer" in ben_card.text and "This card is for you only" in ben_card.text
    assert "finance keeps complaining" in ben_card.text  # the hidden need
    assert "soften when" in ben_card.text

    # The rep presses the observer's button: refused, nothing recorded.
    seven = score_button(cai, 0, 7)
    ann.send(Incoming.pressed(seven))
    assert "Only the observer, Cai" in ann.text
    assert rounds(database)[0].scores == {}

    # Finishing before every item is scored is refused.
    cai.replies = [cai.replies[-1]]
    cai.press("Finish round")
    assert "Score every item" in cai.text and "Confidence" in cai.text

    # A comment on an item, by pressing its name.
    cai.press("Comment")
    cai.press("1. Confidence")
    assert "Your comment on <b>Confidence</b>" in cai.text
    cai.say("Steady voice, <b>good</b> opening")
    assert "saved" in cai.text and "💬 Steady voice, &lt;b&gt;good&lt;/b&gt; opening" in cai.text

    clock.now += timedelta(minutes=2)  # the cards are read; then the conversation begins
    cai.press("Start the clock")
    assert cai.replies[0].replace and "0:00 so far" in cai.text
    fill_form(cai, [7] * 5 + [5] * 5 + [3] * 4)
    assert "Scored 14/14" in cai.text and "72/98" in cai.text
    clock.now += timedelta(minutes=4, seconds=30)
    cai.press("Finish round")
    assert "Round 1 saved: 72/98 for Ann" in cai.text
    assert "you are the customer" in cai.text  # round 2: Cai moves on to the customer

    result, ann_next = deliver(trio_engine, ann)
    assert "Your form · round 1/3" in result.text and "Total: 72/98" in result.text
    assert "time used 4:30" in result.text and "Steady voice" in result.text
    assert "you are the observer" in ann_next.text
    [ben_next] = deliver(trio_engine, ben)
    assert "you are the rep" in ben_next.text

    # A button of round 1's form is stale now.
    ann.send(Incoming.pressed(seven))
    assert "round is over" in ann.text

    ann.replies = [ann_next]
    fill_form(ann, [5] * 14)
    ann.press("Finish round")
    assert "Round 2 saved: 70/98 for Ben" in ann.text and "you are the customer" in ann.text
    ben_result, ben_form = deliver(trio_engine, ben)
    assert "Total: 70/98" in ben_result.text and "you are the observer" in ben_form.text
    [cai_rep] = deliver(trio_engine, cai)
    assert "you are the rep" in cai_rep.text
    ben.say("/trio")  # lost the message? /trio shows the card again
    assert "round 3" in ben.text and "you are the observer" in ben.text

    fill_form(ben, [3] * 14)
    ben.press("Finish round")
    assert "Round 3 saved: 42/98 for Cai" in ben.text and "all three rounds are done" in ben.text
    result, done = deliver(trio_engine, cai)
    assert "Total: 42/98" in result.text and "Your total as the rep: <b>42/98</b>" in done.text
    [ann_done] = deliver(trio_engine, ann)
    assert "Your total as the rep: <b>72/98</b>" in ann_done.text

    played = rounds(database)
    assert [(r.rep_id, r.customer_id, r.observer_id) for r in played] == [
        (user_id(database, ann), user_id(database, ben), user_id(database, cai)),
        (user_id(database, ben), user_id(database, cai), user_id(database, ann)),
        (user_id(database, cai), user_id(database, ann), user_id(database, ben)),
    ]
    assert [r.total for r in played] == [72, 70, 42] and played[0].seconds_used == 270

    ann.say("/progress")
    assert "Role-play in threes" in ann.text and "Confidence: 7" in ann.text


def test_progress_shows_a_trend_per_item(trio_engine: Engine, database: Database) -> None:
    (ann, _ben, cai), _ = start_trio(trio_engine)
    fill_form(cai, [5] * 14)
    cai.press("Finish round")
    ann.say("/progress")
    assert "1 round(s) as the rep" in ann.text and "Time management: 5" in ann.text
    with Session(database) as session:
        assert [r.total for r in rounds_as_rep(session, user_id(database, ann))] == [70]


# ----- bad input ----------------------------------------------------------------------------


def test_wrong_code_full_trio_joining_twice_and_leaving(
    trio_engine: Engine, database: Database
) -> None:
    (ann, ben, cai), code = start_trio(trio_engine)
    dan = Chat(trio_engine, "7009", "Dan")
    dan.onboard(role="Trainee")
    dan.say("/trio ZZZZZZ")
    assert "No role-play in threes has that code" in dan.text
    dan.say(f"/trio {code}")
    assert "already has three people" in dan.text
    ben.say(f"/trio {code}")
    assert "already in this trio" in ben.text
    with Session(database) as session:
        assert len(list(session.exec(select(TrioMember)))) == 3

    # Ben, the customer, leaves mid-round: the others are told and the trio stops.
    deliver(trio_engine, ann)
    deliver(trio_engine, ben)
    ben.press("Leave the trio")
    assert "You left" in ben.text
    assert "Ben left the role-play in threes" in deliver(trio_engine, ann)[0].text
    assert "Ben left" in deliver(trio_engine, cai)[-1].text
    cai.send(Incoming.pressed(cai_form_button(database)))
    assert "round is over" in cai.text
    with Session(database) as session:
        assert session.exec(select(TrioSession)).one().status == "cancelled"
    ann.say("/trio leave")
    assert "not in a role-play in threes" in ann.text


def cai_form_button(database: Database) -> str:
    with Session(database) as session:
        trio = session.exec(select(TrioSession)).one()
    return f"@t{trio.id}:r1i0s7"


def test_forged_buttons_are_refused(trio_engine: Engine, database: Database) -> None:
    _, cai = start_trio(trio_engine)[0][1:]
    with Session(database) as session:
        trio_id = session.exec(select(TrioSession)).one().id
    forged = (f"@t{trio_id}:r1i99s7", f"@t{trio_id}:r1i0s6", f"@t{trio_id}:bogus", "@t999:leave")
    for data in forged:
        cai.send(Incoming.pressed(data))
        assert cai.replies[0].notice is not None, data
    assert rounds(database)[0].scores == {}


def test_joining_a_second_trio_while_in_one_is_refused(trio_engine: Engine) -> None:
    ann, ben, _cai = people(trio_engine)
    ann.say("/trio")
    ann.press("Objection: no need")
    first = code_in(ann.text)
    ben.say("/trio")
    ben.press("Objection: no need")
    ben.say(f"/trio {first}")
    assert "already in another role-play in threes" in ben.text


def test_chinese_cards(trio_engine: Engine) -> None:
    chats = []
    for number, name in enumerate(("小安", "小本", "小蔡")):
        chat = Chat(trio_engine, str(7101 + number), name, "zh")
        chat.onboard(role="培训学员", zone="上海")
        chats.append(chat)
    an, ben, cai = chats
    an.say("/trio")
    an.press("需求探测")
    code = code_in(an.text)
    ben.say(f"/trio {code}")
    cai.say(f"/trio {code}")
    assert "你是观察员" in cai.text and "眼神接触" in cai.text
    [card] = deliver(trio_engine, ben)
    assert "你是客户" in card.text and "跨厂区" in card.text


# ----- a manager's trio ---------------------------------------------------------------------


def test_a_manager_sets_one_up_for_three_members(trio_engine: Engine, database: Database) -> None:
    boss = Chat(trio_engine, "7200", "Wang Fang")
    boss.onboard(role="Sales manager")
    boss.say("/newteam East")
    ann, ben, cai = people(trio_engine)
    dan = Chat(trio_engine, "7009", "Dan")
    dan.onboard(role="Trainee")
    with Session(database) as session:
        team = session.exec(select(Team)).one()
        for chat in (ann, ben, cai, dan):
            session.add(Membership(team_id=team.id or 0, user_id=user_id(database, chat)))
        session.commit()
    boss.say("/trio")
    boss.press("Three of my team")
    boss.press("Ann")
    boss.press("Ben")
    boss.press("Done")
    assert "exactly three" in boss.text
    boss.press("Cai")
    boss.press("Done")
    boss.press("Objection: no budget")
    assert "Sent <b>Objection: no budget</b> to Ann, Ben, Cai" in boss.text
    code = code_in(boss.text)

    [invite] = deliver(trio_engine, ann)
    assert "Wang Fang set up a role-play in threes" in invite.text and "Ben and Cai" in invite.text
    dan.say(f"/trio {code}")
    assert "set up for three named people" in dan.text
    ann.press("Join")
    assert "(1/3)" in ann.text
    for chat in (ben, cai):
        deliver(trio_engine, chat)
        chat.press("Join")
    assert "round 1 starts now" in cai.text and "you are the observer" in cai.text
    assert any("you are the rep" in m.text for m in deliver(trio_engine, ann))

    # Three rounds later the manager gets each round's result.
    observers = {1: cai, 2: ann, 3: ben}
    for number in (1, 2, 3):
        observer = observers[number]
        if number > 1:
            [card] = [m for m in deliver(trio_engine, observer) if "you are the observer" in m.text]
            observer.replies = [card]
        fill_form(observer, [7] * 14 if number == 1 else [5] * 14)
        observer.press("Finish round")
    [summary] = deliver(trio_engine, boss)
    assert "the role-play in threes you set up is done" in summary.text
    assert "Round 1: Ann as the rep — <b>98/98</b>" in summary.text
    assert "Round 3: Cai as the rep — <b>70/98</b>" in summary.text


# ----- storage --------------------------------------------------------------------------------


def test_storage_on_both_databases(any_database: str) -> None:
    database = make_engine(any_database)
    upgrade(database)
    try:
        with transaction(database) as session:
            ids = []
            for number in range(4):
                user = User(platform="telegram", platform_user_id=str(8000 + number))
                session.add(user)
                session.flush()
                ids.append(user.id or 0)
            trio = create_session(
                session,
                creator_id=ids[0],
                card_id="phone-appointment",
                language="en",
                now=FIXED_NOW,
            )
            code = trio.code
        with transaction(database) as session:
            found = find_by_code(session, code.lower())
            assert found is not None
            assert join(session, found, ids[0], FIXED_NOW) is Joined.ALREADY
            assert join(session, found, ids[1], FIXED_NOW) is Joined.JOINED
            assert join(session, found, ids[2], FIXED_NOW) is Joined.JOINED
            assert found.status == "running" and found.round == 1
            assert join(session, found, ids[3], FIXED_NOW) is Joined.FULL
        with transaction(database) as session:
            played = session.exec(select(TrioRound)).one()
            played.scores = dict.fromkeys(ITEMS, 7)
            played.total, played.finished_at = 98, FIXED_NOW
            session.add(played)
        with transaction(database) as session:
            assert [r.total for r in rounds_as_rep(session, ids[0])] == [98]
            day = timedelta(days=1)
            week = rounds_between(session, ids, FIXED_NOW - day, FIXED_NOW + day)
            assert len(week) == 1 and week[0].scores["rapport"] == 7
    finally:
        database.dispose()


# ----- the manager's weekly digest ---------------------------------------------------------


def test_the_digest_shows_each_members_rounds_as_the_rep(any_database: str) -> None:
    database = make_engine(any_database)
    upgrade(database)
    try:
        with transaction(database) as session:
            boss = User(platform="telegram", platform_user_id="9000", display_name="Boss")
            session.add(boss)
            session.flush()
            team = Team(name="East", created_by=boss.id or 0)
            session.add(team)
            session.flush()
            ids = []
            for number, name in enumerate(("Ann", "Ben", "Cai")):
                user = User(platform="telegram", platform_user_id=str(9001 + number))
                user.display_name, user.role = name, "trainee"
                session.add(user)
                session.flush()
                session.add(Membership(team_id=team.id or 0, user_id=user.id or 0))
                ids.append(user.id or 0)
            trio = create_session(
                session, creator_id=ids[0], card_id="needs-probing", language="en", now=FIXED_NOW
            )
            for user in ids[1:]:
                join(session, trio, user, FIXED_NOW)
            for number, total in ((1, 70), (2, 84)):
                played = session.exec(select(TrioRound).where(TrioRound.number == number)).one()
                played.total, played.finished_at = total, FIXED_NOW
                session.add(played)
                if number == 1:
                    start_round(session, trio, 2, FIXED_NOW)
            team_id = team.id or 0
        with transaction(database) as session:
            digest = build_digest(
                session, team_id, "2026-W48", zone=UTC, now=FIXED_NOW + timedelta(days=7),
                playbooks=PB,
            )  # fmt: skip
            assert digest is not None and not digest.empty
            html = digest_html(digest, Texts("en"), PB)
        assert "Role-play in threes" in html
        assert "Ann: 1 round(s) as the rep, average 70/98" in html
        assert "Ben: 1 round(s) as the rep, average 84/98" in html
        assert "Cai:" not in html.split("Role-play in threes")[1].split("\n\n")[0]
    finally:
        database.dispose()


def test_mydata_exports_and_forget_strips_the_observers_comments(
    trio_engine: Engine, database: Database
) -> None:
    (ann, _ben, cai), _ = start_trio(trio_engine)
    cai.press("Comment")
    cai.press("2. Substance")
    cai.say("Named a client Ann can call")
    fill_form(cai, [5] * 14)
    cai.press("Finish round")
    ann.say("/mydata")
    [export] = [reply for reply in ann.replies if reply.attachments]
    dump = json.loads(export.attachments["salescoach-data.json"])
    assert dump["trio_rounds"][0]["comments"] == {"substance": "Named a client Ann can call"}
    ann.say("/forget")
    ann.press("Yes")
    [played, _second] = rounds(database)
    assert played.comments == {} and played.total == 70  # counted, but says nothing


def test_a_trio_nobody_joins_is_given_up_after_a_day(trio_engine: Engine, clock: Clock) -> None:
    ann, ben, _cai = people(trio_engine)
    ann.say("/trio")
    ann.press("Objection: no need")
    code = code_in(ann.text)
    ann.say("/trio")
    assert f"/trio {code}" in ann.text  # still waiting: the invite again
    clock.now += timedelta(days=1, minutes=1)
    ben.say(f"/trio {code}")
    assert "finished or was stopped" in ben.text
    ann.say("/trio")
    assert "Pick the scenario" in ann.text  # free to open a new one


def test_a_company_card_must_name_a_scenario(tmp_path: Path) -> None:
    (tmp_path / "trio.yaml").write_text(
        "trio_cards:\n"
        "  - id: no-such-scenario\n"
        "    minutes: 5\n"
        "    rep: {zh: 你打电话。, en: You call.}\n"
        "    who: {zh: 你是主任。, en: You are the director.}\n"
        "    hidden_need: {zh: 费用。, en: Costs.}\n"
        "    objections:\n"
        "      - raise: {zh: 没时间。, en: No time.}\n"
        "        soften: {zh: 对方简短时。, en: When the caller is brief.}\n",
        encoding="utf-8",
    )
    problems = [str(problem) for problem in check_directory(tmp_path)]
    assert any("unknown role-play scenario 'no-such-scenario'" in text for text in problems)


def test_quiet_hours_hold_reminders_but_not_a_trio_being_played(
    trio_engine: Engine, database: Database
) -> None:
    received: list[tuple[str, str]] = []

    async def deliver(user: User, outgoing: Outgoing) -> None:
        received.append((user.platform_user_id, outgoing.text))

    ann, ben, _cai = people(trio_engine)
    with transaction(database) as session:  # everyone's quiet hours cover the whole day
        for user in session.exec(select(User)):
            user.quiet_start, user.quiet_end = "00:00", "23:59"
            session.add(user)
    ann.say("/remind in 1 minute call Wang")
    ann.say("/trio")
    ann.press("Phone call to book a first visit")
    ben.say(f"/trio {code_in(ann.text)}")
    dispatcher = Dispatcher(trio_engine, "telegram", deliver, DispatchConfig(per_chat_interval=0))
    asyncio.run(dispatcher.run_once())
    assert [(who, "Ben joined" in text) for who, text in received] == [("7001", True)]
    with Session(database) as session:
        held = session.exec(select(Reminder).where(Reminder.kind == "follow_up")).one()
        assert held.status == "pending"  # the ordinary reminder waits for the quiet hours' end
