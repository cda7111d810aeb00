"""/practice, /progress, /assign and /review through the engine: drills, scores, overrides."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine as Database
from sqlmodel import Session, col, select

from bot.reminders import DispatchConfig, Dispatcher
from dialogs.core.engine import Engine
from dialogs.core.io import Incoming, Outgoing
from playbooks.loader import load_playbooks
from storage.models import Assignment, Drill, Membership, Reminder, Team, User
from tests.conftest import FIXED_NOW
from tests.helpers import Chat

PNG = b"\x89PNG\r\n\x1a\n"
NO_NEED = load_playbooks().scenarios["objection-no-need"]
MODEL_EN = [turn.model_answer.en for turn in NO_NEED.turns]
MODEL_ZH = [turn.model_answer.zh for turn in NO_NEED.turns]


# ----- people and teams ---------------------------------------------------------------------


def user_of(database: Database, chat: Chat) -> User:
    with Session(database) as session:
        return session.exec(select(User).where(User.platform_user_id == chat.sender.user_id)).one()


def team_id(database: Database, name: str) -> int:
    with Session(database) as session:
        return session.exec(select(Team).where(Team.name == name)).one().id or 0


def join(database: Database, chat: Chat, team: int) -> None:
    with Session(database) as session:
        session.add(Membership(team_id=team, user_id=user_of(database, chat).id or 0))
        session.commit()


def drills(database: Database) -> list[Drill]:
    with Session(database) as session:
        return list(session.exec(select(Drill).order_by(col(Drill.id))))


def reminders(database: Database) -> list[Reminder]:
    with Session(database) as session:
        return list(session.exec(select(Reminder).order_by(col(Reminder.id))))


@dataclass
class Teams:
    """East (manager Wang Fang: trainee Tina) and West (manager Zhou Min: Olga)."""

    boss: Chat
    tina: Chat
    west_boss: Chat
    olga: Chat


@pytest.fixture
def teams(engine: Engine, database: Database) -> Teams:
    boss = Chat(engine, "5001", "Wang Fang")
    boss.onboard(role="Sales manager")
    boss.say("/newteam East")
    west_boss = Chat(engine, "5101", "Zhou Min")
    west_boss.onboard(role="Sales manager")
    west_boss.say("/newteam West")
    tina, olga = Chat(engine, "5002", "Tina"), Chat(engine, "5102", "Olga")
    tina.onboard(role="Trainee")
    olga.onboard(role="Trainee")
    join(database, tina, team_id(database, "East"))
    join(database, olga, team_id(database, "West"))
    return Teams(boss, tina, west_boss, olga)


def trainee(engine: Engine, user_id: str = "4001", language: str = "en") -> Chat:
    chat = Chat(engine, user_id, "Tina" if language == "en" else "小李", language)
    if language == "en":
        chat.onboard(role="Trainee", zone="London")
    else:
        chat.onboard(role="培训学员", zone="上海")
    return chat


def open_drill(chat: Chat, title: str = "Objection: no need", start: str = "Start") -> None:
    chat.say("/practice")
    chat.press(title)
    chat.press(start)


def play(chat: Chat, replies: list[str]) -> list[Outgoing]:
    for reply in replies:
        chat.say(reply)
    return chat.replies


def forge(chat: Chat, key: str) -> Incoming:
    """A button press with the current prompt's version but a key the prompt never offered."""
    versions = [
        match.group(1)
        for reply in chat.replies
        for row in reply.buttons
        for button in row
        if (match := re.match(r"^v(\d+):", button.data))
    ]
    return Incoming.pressed(f"v{versions[-1]}:{key}")


def deliver_due(engine: Engine) -> list[tuple[str, Outgoing]]:
    """Run the reminder dispatcher once; returns (platform user id, message) pairs."""
    sent: list[tuple[str, Outgoing]] = []

    async def deliver(user: User, outgoing: Outgoing) -> None:
        sent.append((user.platform_user_id, outgoing))

    dispatcher = Dispatcher(engine, "telegram", deliver, DispatchConfig(per_chat_interval=0.0))
    asyncio.run(dispatcher.run_once())
    return sent


# ----- a whole drill ------------------------------------------------------------------------


def test_a_full_drill_in_english(engine: Engine, database: Database) -> None:
    tina = trainee(engine)
    tina.say("/practice")
    assert "Role-play practice" in tina.text
    assert "Handling objections" in tina.text and "• Objection: no need" in tina.text
    assert "Insurance: my employer already covers me" in tina.labels()
    tina.press("Objection: no need")
    assert "The customer:</b> Manager Wu" in tina.text
    assert "Your goal:" in tina.text and "4 replies" in tina.text
    # No hidden criteria: the rubric, every 7/5/3 line, before the first turn.
    tina.press("See the rubric")
    rubric = tina.text
    assert "How “Objection: no need” is scored" in rubric
    for criterion in NO_NEED.criteria:
        item = load_playbooks().rubric_criteria[criterion]
        for score in (7, 5, 3):
            assert f"{score} · {item.levels[score].en}".replace("'", "&#39;") in rubric
    assert "works fine" not in rubric  # the customer has not spoken yet
    tina.press("Start")
    assert "Manager Wu</b>: “Honestly, what we have works fine." in tina.text
    assert "Your reply (1 of 4)" in tina.text

    tina.say(MODEL_EN[0])
    first = tina.text
    assert "Reply 1</b> · 14/14" in first
    assert "What worked: Acknowledged the customer (“understand”)" in first
    assert "Attitude and listening <b>7</b> (Acknowledged the customer)" in first
    assert "Acknowledged or restated the customer&#39;s view" in first  # the rubric line applied
    assert "“We do it by hand in spreadsheets." in first  # the asked-branch reply
    assert "Your reply (2 of 4)" in first

    tina.say("OK.")
    second = tina.text
    assert "Reply 2</b> · 8/14" in second
    assert "What worked: nothing I could point to yet." in second
    assert "Questioning <b>3</b>" in second and "Asked nothing" in second
    assert "💡 Try: Acknowledge before you answer" in second  # the turn's first focus move
    assert "“It&#39;s fine, really.”" in second

    final = play(tina, MODEL_EN[2:])
    assert len(final) == 3
    closing, card, answers = (reply.text for reply in final)
    assert "Reply 4</b> · 14/14" in closing and "Friday afternoon" in closing
    assert "Scorecard: Objection: no need" in card
    assert "<b>Questioning: 5</b>" in card and "<b>Attitude and listening: 7</b>" in card
    assert "Seen: Asked a question, Open question, Probing question" in card
    assert "Total: 26 / 28" in card
    assert "Weakest skill: <b>Questioning</b>." in card
    assert "Next: <b>Needs probing</b> (it trains Questioning, your weakest lately)" in card
    assert final[1].buttons[0][0].label == "▶ Practise: Needs probing"
    assert "Model answers" in answers and "You: “OK.”" in answers
    assert f"Model: “{MODEL_EN[1]}”" in answers.replace("&#39;", "'")

    [drill] = drills(database)
    assert drill.status == "finished" and drill.finished_at == FIXED_NOW
    assert drill.scores == {"attitude": 7, "questioning": 5, "substance": 7, "advance": 7}
    assert drill.total == 26 and drill.language == "en" and drill.turn == 4
    assert [entry["speaker"] for entry in drill.transcript] == ["customer", "trainee"] * 4 + [
        "customer"
    ]
    assert drill.transcript[1]["scores"] == {"attitude": 7, "questioning": 7}
    assert {"id": "acknowledge", "cue": "understand", "size": None} in drill.transcript[1]["moves"]

    # The suggested drill's button starts it.
    tina.press("Practise: Needs probing")
    assert "Needs probing" in tina.text and "The customer:" in tina.text


def test_a_full_drill_in_chinese(engine: Engine, database: Database) -> None:
    li = trainee(engine, "4002", "zh")
    li.say("/practice")
    assert "异议处理" in li.text
    li.press("异议处理：不需要")
    assert "吴经理" in li.text and "你的目标" in li.text
    li.press("看评分标准")
    assert "7 · 回应前先认同、复述客户的观点或真诚道歉" in li.text
    li.press("开始")
    assert "吴经理</b>：“说实话，我们现在这样挺好的" in li.text
    li.say("您这么说就不对了，手工做表太落后了。")
    assert "⚠️ 注意：与客户争辩（“不对”） · 嘲讽客户（“太落后”）" in li.text
    assert "态度与倾听 <b>3</b>" in li.text and "💡 试试：不要争辩" in li.text
    assert "“你看，我就是不喜欢推销。" in li.text  # the customer cools down
    final = play(li, MODEL_ZH[1:])
    card = final[1].text
    assert "评分表：异议处理：不需要" in card and "总分：" in card
    assert "最需要加强：<b>态度与倾听</b>" in card
    [drill] = drills(database)
    assert drill.language == "zh" and drill.status == "finished"
    assert drill.scores["attitude"] == 5  # 3, 7, 7 averaged


def test_english_reply_in_a_chinese_drill_is_scored_too(engine: Engine) -> None:
    li = trainee(engine, "4003", "zh")
    open_drill(li, "异议处理：不需要", "开始")
    li.say("I understand. How do you build the month-end report today?")
    assert "认同客户（“understand”）" in li.text and "第 1 轮</b> · 14/14" in li.text


# ----- branches, back, cancel --------------------------------------------------------------


def test_the_customer_follows_what_the_trainee_did(engine: Engine) -> None:
    replies = {
        "asked": "I see. How do your sites share calls today?",
        "argued": "That's not true, everyone needs this.",
        "pitched": "Our product has unified billing and conference calling features.",
    }
    seen = {}
    for number, (kind, text) in enumerate(replies.items()):
        chat = trainee(engine, f"41{number}")
        open_drill(chat, "Needs probing")
        chat.say(text)
        seen[kind] = chat.text
    assert "about 300 staff across three sites" in seen["asked"]
    assert "not to sell me something straight away" in seen["argued"]
    assert "not to sell me something straight away" in seen["pitched"]
    assert "Pitched before asking (“our product”)" in seen["pitched"]


def test_back_replaces_a_reply_and_what_followed(engine: Engine, database: Database) -> None:
    tina = trainee(engine)
    open_drill(tina)
    tina.say("That's not true.")
    assert "don&#39;t like sales calls" in tina.text
    tina.say("/back")
    assert "Your reply (1 of 4)" in tina.text and "Reply 1" not in tina.text
    tina.say(MODEL_EN[0])
    assert "We do it by hand" in tina.text
    [drill] = drills(database)
    assert len(drill.transcript) == 3 and drill.transcript[1]["text"] == MODEL_EN[0]


def test_a_new_drill_abandons_an_unfinished_one(engine: Engine, database: Database) -> None:
    tina = trainee(engine)
    open_drill(tina)
    tina.say(MODEL_EN[0])
    tina.say("/cancel")
    open_drill(tina, "Needs probing")
    tina.say("How do your sites work together today?")
    first, second = drills(database)
    assert (first.status, second.status) == ("abandoned", "active")


def test_typed_scenario_and_unknown_one(engine: Engine) -> None:
    tina = trainee(engine)
    tina.say("/practice insurance-too-busy")
    assert "Mr. Zhou" in tina.text
    tina.say("/cancel")
    tina.say("/practice nonsense")
    assert "I don't know that scenario" in tina.text and "Pick a scenario" in tina.text


# ----- /progress ----------------------------------------------------------------------------


def test_progress_before_and_after_a_drill(engine: Engine) -> None:
    tina = trainee(engine)
    [empty] = tina.say("/progress")
    assert "No finished drills yet" in empty.text and not empty.attachments
    assert "Next:</b> Phone call to book a first visit (a good first drill)" in empty.text
    open_drill(tina)
    play(tina, [MODEL_EN[0], "OK.", *MODEL_EN[2:]])
    [progress] = tina.say("/progress")
    assert "Drills finished: <b>1</b>" in progress.text
    assert "Objection: no need · 26/28" in progress.text
    assert "• Questioning: 5" in progress.text
    assert "Next:</b> Needs probing (it trains Questioning, your weakest lately)" in progress.text
    chart = progress.attachments["progress.png"]
    assert chart.startswith(PNG) and len(chart) > 5000


# ----- /assign ------------------------------------------------------------------------------


def test_assign_delivers_reminds_and_is_done_by_the_drill(
    engine: Engine, database: Database, teams: Teams
) -> None:
    boss, tina = teams.boss, teams.tina
    tina.say("/assign")
    assert "isn't available for your role" in tina.text
    boss.say("/assign")
    assert "Who should practise?" in boss.text and "Olga" not in boss.labels()
    boss.press("Tina")
    boss.press("Objection: no trust")
    assert "By when should <b>Tina</b> finish “Objection: no trust”?" in boss.text
    boss.say("in 3 days")
    boss.press("Yes")
    assert "Assigned “Objection: no trust” to <b>Tina</b>" in boss.text

    with Session(database) as session:
        [assignment] = session.exec(select(Assignment)).all()
    assert (assignment.scenario_id, assignment.status) == ("objection-no-trust", "open")
    # "in 3 days" is a date: 09:00 in the manager's zone (Shanghai) three days on.
    assert assignment.due_at == datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    keys = {r.dedup_key: (r.kind, r.due_at) for r in reminders(database)}
    assert keys[f"assignment:{assignment.id}"] == ("drill", FIXED_NOW)
    day_before = assignment.due_at - timedelta(days=1)
    assert keys[f"assignment:{assignment.id}:due"] == ("drill", day_before)

    [(who, message)] = deliver_due(engine)
    assert who == "5002"
    assert "<b>Wang Fang</b> asked you to practise “Objection: no trust”" in message.text
    [[start]] = message.buttons
    assert start.label == "▶ Start now"
    tina.send(Incoming.pressed(start.data))
    assert "Mr. Sun" in tina.text and "See the rubric" in " ".join(tina.labels())
    tina.press("Start")
    no_trust = load_playbooks().scenarios["objection-no-trust"]
    play(tina, [turn.model_answer.en for turn in no_trust.turns])
    assert "Total: 28 / 28" in tina.text

    with Session(database) as session:
        done = session.get(Assignment, assignment.id)
        drill = session.exec(select(Drill)).one()
    assert done is not None and done.status == "done" and drill.assignment_id == assignment.id
    statuses = {r.dedup_key: r.status for r in reminders(database)}
    assert statuses[f"assignment:{assignment.id}:due"] == "cancelled"
    tina.send(Incoming.pressed(start.data))  # the old button: nothing to start any more
    assert "already done or was withdrawn" in tina.text


def test_assign_refuses_a_forged_member_and_a_past_date(engine: Engine, teams: Teams) -> None:
    boss, olga = teams.boss, user_of(engine.database, teams.olga)
    boss.say("/assign")
    boss.send(forge(boss, f"u{olga.id}"))
    assert "belongs to an older message" in boss.text  # a key the prompt never offered
    boss.say(f"u{olga.id}")
    assert "Who should practise?" in boss.text
    boss.press("Tina")
    boss.press("Needs probing")
    boss.say("yesterday 9am")
    assert "already passed" in boss.text


def test_a_manager_without_members_is_told(engine: Engine) -> None:
    lonely = Chat(engine, "6001", "Solo")
    lonely.onboard(role="Sales manager")
    lonely.say("/assign")
    assert "You don't manage a team yet" in lonely.text
    lonely.say("/newteam Empty")
    lonely.say("/assign")
    assert "Nobody has joined your team yet" in lonely.text
    lonely.say("/review")
    assert "Nobody in your teams has finished a drill yet" in lonely.text


# ----- /review and overrides ----------------------------------------------------------------


def finished_drill(chat: Chat, database: Database) -> Drill:
    open_drill(chat)
    play(chat, [MODEL_EN[0], "OK.", *MODEL_EN[2:]])
    return drills(database)[-1]


def test_a_manager_overrides_a_score_and_it_counts_everywhere(
    engine: Engine, database: Database, teams: Teams
) -> None:
    boss, tina = teams.boss, teams.tina
    drill = finished_drill(tina, database)
    boss.say("/review")
    assert "Whose drills do you want to review?" in boss.text
    boss.press("Tina")
    assert "Objection: no need · 26/28" in boss.text
    boss.press("1. Objection: no need")
    card = boss.text
    assert "🙋 Tina: “OK.”" in card and "Questioning 3" in card  # the transcript, per reply
    assert "<b>Questioning: 5</b>" in card
    boss.press("Change a score")
    boss.press("Questioning")
    assert "(now 5)" in boss.text
    boss.press("7 · outstanding")
    boss.say("“OK.” was a fair pause here: she let him think, then asked well.")
    assert "Saved: Questioning 5 → <b>7</b>" in boss.text and "28/28" in boss.text

    [saved] = drills(database)
    assert saved.scores["questioning"] == 5  # the scorer's number is kept
    assert saved.overrides["questioning"]["score"] == 7 and saved.total == 28
    assert saved.overrides["questioning"]["by"] == user_of(database, boss).id

    [(who, message)] = deliver_due(engine)
    assert who == "5002" and "Questioning 5 → <b>7</b>" in message.text
    tina.send(Incoming.pressed(message.buttons[0][0].data))
    assert "✏️ changed from 5 by Wang Fang" in tina.text and "Total: 28 / 28" in tina.text
    [progress] = tina.say("/progress")
    assert "Objection: no need · 28/28 ✏️" in progress.text
    assert "• Questioning: 7" in progress.text
    assert drill.id == saved.id


def test_overrides_are_refused_outside_your_team(
    engine: Engine, database: Database, teams: Teams
) -> None:
    west = teams.west_boss
    west.say("/review")
    assert "Nobody in your teams has finished a drill yet" in west.text
    drill = finished_drill(teams.tina, database)
    finished_drill(teams.olga, database)
    west.say("/review")
    assert "Tina" not in west.labels() and "Olga" in west.labels()
    west.send(forge(west, f"u{user_of(database, teams.tina).id}"))
    assert "belongs to an older message" in west.text
    west.say(f"u{user_of(database, teams.tina).id}")  # typed: not one of the options
    assert "Whose drills" in west.text and "Tina" not in west.text
    west.press("Olga")
    west.send(forge(west, f"k{drill.id}"))
    assert "belongs to an older message" in west.text and "“OK.”" not in west.text
    west.say("/cancel")
    west.say(f"/review k{drill.id}")  # straight to the drill: refused
    assert "belongs to an older message" in west.text and "“OK.”" not in west.text
    west.send(Incoming.pressed(f"@p{drill.id}:view"))  # a forged action button
    assert "belongs to an older message" in west.text and "“OK.”" not in west.text
    teams.olga.send(Incoming.pressed(f"@p{drill.id}:next"))  # someone else's drill
    assert "belongs to an older message" in teams.olga.text
    teams.tina.say("/review")
    assert "isn't available for your role" in teams.tina.text
    untouched = drills(database)[0]
    assert untouched.overrides == {} and untouched.total == 26


def test_review_straight_from_a_drill_button(
    engine: Engine, database: Database, teams: Teams
) -> None:
    drill = finished_drill(teams.tina, database)
    teams.boss.send(Incoming.pressed(f"@p{drill.id}:view"))
    assert "📄 <b>Tina · Objection: no need</b>" in teams.boss.text
    assert "Change a score?" in teams.boss.text
    teams.boss.press("Done")
    assert "Done." in teams.boss.text


def test_an_unsure_reply_is_flagged_and_the_card_offers_a_review(engine: Engine) -> None:
    tina = trainee(engine, "4099")
    open_drill(tina)
    tina.say("Zorblat quixotic fnord wibble, hmm?")
    assert "I am not sure about this score" in tina.text
    final = play(tina, MODEL_EN[1:])
    card = final[1].text
    assert "The judge was unsure about reply 1" in card and "/review" in card
    assert len(final[1].buttons) == 1  # still one recommended drill


def test_the_card_its_button_and_progress_recommend_one_drill(
    engine: Engine, database: Database
) -> None:
    tina = trainee(engine, "4301")
    with Session(database) as session:
        session.add(
            Assignment(
                manager_id=user_of(database, tina).id or 0,
                user_id=user_of(database, tina).id or 0,
                scenario_id="objection-no-trust",
                due_at=FIXED_NOW + timedelta(days=2),
            )
        )
        session.commit()
    open_drill(tina)  # objection-no-need, while no-trust is assigned
    final = play(tina, ["OK."] * 4)
    card = final[1].text
    assert "Weakest skill:" in card and "Next: <b>Objection: no trust</b> (assigned, due" in card
    assert final[1].buttons[0][0].label == "▶ Practise: Objection: no trust"
    tina.say("/progress")
    assert "<b>Next:</b> Objection: no trust (assigned, due" in tina.text
    tina.send(Incoming.pressed(final[1].buttons[0][0].data))
    assert "Ms Sun" in tina.text or "Objection: no trust" in tina.text
