"""Reminders: /remind, buttons, quiet hours, retries, blocked users, zone changes, once only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from bot.reminders import DeliveryBlocked, DeliveryRetry, DispatchConfig, Dispatcher
from dialogs.catalog import ACTIONS, COMMANDS, DIALOGS
from dialogs.core.engine import Engine
from dialogs.core.io import Incoming, Outgoing
from storage.models import Account, FollowUp, Reminder, User, Visit
from storage.reminders import schedule_visit_reminders
from tests.helpers import Chat


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Inbox:
    """A delivery function that records messages, or fails as told."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Outgoing]] = []
        self.failures: list[Exception] = []

    async def __call__(self, user: User, outgoing: Outgoing) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.received.append((user.platform_user_id, outgoing))


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai


@pytest.fixture
def engine(database: Database, clock: Clock) -> Engine:
    return Engine(database, dialogs=DIALOGS, commands=COMMANDS, actions=ACTIONS, clock=clock)


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def dispatcher(engine: Engine, inbox: Inbox) -> Dispatcher:
    return Dispatcher(engine, "telegram", inbox, DispatchConfig(per_chat_interval=0.0))


def run(dispatcher: Dispatcher) -> int:
    return asyncio.run(dispatcher.run_once())


def rows(database: Database, model: Any) -> list[Any]:
    with Session(database) as session:
        found = list(session.exec(select(model)))
        for row in found:
            session.expunge(row)
        return found


def test_remind_with_time_in_chinese_is_delivered_once(
    engine: Engine, database: Database, clock: Clock, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    chat = Chat(engine, language="zh")
    chat.onboard(role="销售代表", zone="上海")
    chat.say("/remind 明天上午9点 给王总打电话")
    assert "给王总打电话" in chat.text and "11月24日" in chat.text
    [follow_up] = rows(database, FollowUp)
    assert follow_up.due_at == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert run(dispatcher) == 0
    clock.now = follow_up.due_at
    assert run(dispatcher) == 1
    assert run(dispatcher) == 0  # never twice
    [(chat_id, message)] = inbox.received
    assert chat_id == "1001" and "给王总打电话" in message.text
    assert [b.label for row in message.buttons for b in row] == [
        "✅ 完成",
        "😴 1 小时后再提醒",
        "🌅 明早 9 点",
        "🕒 选个时间…",
    ]


# Monday 2026-11-23 10:00 in Shanghai (the clock fixture).
@pytest.mark.parametrize(
    ("language", "typed", "due_local", "task"),
    [
        ("zh", "明天上午提醒我给王总打电话", datetime(2026, 11, 24, 9, 0), "给王总打电话"),
        (
            "zh",
            "下周一下午两点半 跟王科长确认招标时间",
            datetime(2026, 11, 30, 14, 30),
            "跟王科长确认招标时间",
        ),
        ("zh", "两小时后 回电话给陈主任", datetime(2026, 11, 23, 12, 0), "回电话给陈主任"),
        ("zh", "后天早上 发报价", datetime(2026, 11, 25, 8, 0), "发报价"),
        ("zh", "后天 发报价", datetime(2026, 11, 25, 9, 0), "发报价"),  # the default hour
        ("zh", "月底前 催回款", datetime(2026, 11, 30, 9, 0), "催回款"),
        ("zh", "给刘总打电话 明天下午3点", datetime(2026, 11, 24, 15, 0), "给刘总打电话"),
        (
            "en",
            "tomorrow 9am touch base with Li",
            datetime(2026, 11, 24, 9, 0),
            "touch base with Li",
        ),
        ("en", "tomorrow at 9 call Wang", datetime(2026, 11, 24, 9, 0), "call Wang"),
        ("en", "Friday at 3 send the quote", datetime(2026, 11, 27, 15, 0), "send the quote"),
        ("en", "remind me to call Li next Monday", datetime(2026, 11, 30, 9, 0), "call Li"),
    ],
)
def test_remind_reads_the_time_and_keeps_the_task(
    engine: Engine, database: Database, language: str, typed: str, due_local: datetime, task: str
) -> None:
    chat = Chat(engine, language=language)
    if language == "zh":
        chat.onboard(role="销售代表", zone="上海")
    else:
        chat.onboard(zone="Shanghai")
    chat.say(f"/remind {typed}")
    [follow_up] = rows(database, FollowUp)
    assert follow_up.text == task
    assert follow_up.due_at == due_local.replace(tzinfo=UTC) - timedelta(hours=8)


@pytest.mark.parametrize(
    ("language", "typed", "says", "task"),
    [
        (
            "en",
            "in 500 years check the contract",
            "more than 2 years ahead, e.g. “next Monday 9:00”",
            "check the contract",
        ),
        ("zh", "500年后 检查合同", "只能设置 2 年以内的时间，例如“下周一上午9点”", "检查合同"),
        ("en", "tomorrow 25:00 call Li", "no such date or time as “tomorrow 25:00”", "call Li"),
        ("en", "12/12/12 call Li", "e.g. “Dec 12 2026”", "call Li"),
        (
            "en",
            "today 9am call Li",
            "has already passed. Please give a time in the future, e.g.",
            "call Li",
        ),
        ("zh", "下下下周八 开会", "没有“下下下周八”这个日期或时间", "开会"),
        ("zh", "明天7点 开会", "是早上还是晚上", "开会"),
        ("zh", "节后第一天 跟王科长确认", "“节后第一天”不是一个确定的时间", "跟王科长确认"),
        ("en", "call Li", "When?", "call Li"),
    ],
)
def test_remind_explains_an_unusable_time_and_asks_for_one(
    engine: Engine, database: Database, language: str, typed: str, says: str, task: str
) -> None:
    chat = Chat(engine, language=language)
    if language == "zh":
        chat.onboard(role="销售代表", zone="上海")
    else:
        chat.onboard(zone="Shanghai")
    chat.say(f"/remind {typed}")
    assert says in chat.text
    assert rows(database, FollowUp) == []
    chat.say("tomorrow 4pm" if language == "en" else "明天下午4点")
    chat.say("yes" if language == "en" else "对")
    [follow_up] = rows(database, FollowUp)
    assert follow_up.text == task
    assert follow_up.due_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_remind_with_a_time_but_no_task_asks_only_what(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    chat.say("/remind tomorrow 9am")
    assert "What should I remind you of?" in chat.text
    chat.say("call Mr Wang")
    [follow_up] = rows(database, FollowUp)
    assert (follow_up.text, follow_up.due_at) == (
        "call Mr Wang",
        datetime(2026, 11, 24, 1, 0, tzinfo=UTC),
    )


def test_remind_in_english_and_the_buttons(
    engine: Engine, database: Database, clock: Clock, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    chat = Chat(engine)
    chat.onboard(zone="London")
    chat.say("/remind remind me Friday 3pm to send the quote")
    assert "Fri 27 Nov 2026, 15:00" in chat.text and "send the quote" in chat.text
    clock.now = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    run(dispatcher)
    [(_, message)] = inbox.received
    chat.replies = [message]
    chat.press("Snooze 1 h")
    assert chat.replies[0].replace and "16:00" in chat.text
    clock.advance(hours=1)
    run(dispatcher)
    chat.replies = [inbox.received[-1][1]]
    chat.press("Tomorrow 09:00")
    assert "Sat 28 Nov 2026, 09:00" in chat.text
    clock.now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    run(dispatcher)
    chat.replies = [inbox.received[-1][1]]
    done = chat.button("Done")
    chat.press("Done")
    assert "Done: send the quote" in chat.text
    assert rows(database, FollowUp)[0].status == "done"
    chat.send(Incoming.pressed(done))  # the same button again: already handled
    assert "already dealt with" in chat.text


def test_remind_without_time_asks_for_it_and_pick_a_time(
    engine: Engine, clock: Clock, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    chat.say("/remind check stock")
    assert "When?" in chat.text
    chat.say("yesterday 9am")
    assert "already passed" in chat.text  # refused before asking to confirm it
    chat.say("in 10 minutes")
    chat.say("yes")
    assert "check stock" in chat.text
    clock.advance(minutes=10)
    run(dispatcher)
    chat.replies = [inbox.received[-1][1]]
    chat.press("Pick a time")
    chat.say("tomorrow 8am")
    chat.say("yes")
    assert "Tue 24 Nov 2026, 08:00" in chat.text
    assert "(London)" not in chat.text


def test_quiet_hours_hold_a_reminder_until_they_end(
    engine: Engine, database: Database, clock: Clock, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    chat.say("/remind today 22:30 send the contract")
    clock.now = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 22:30 local
    assert run(dispatcher) == 0
    [reminder] = rows(database, Reminder)
    assert reminder.due_at == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 08:00 local
    clock.now = reminder.due_at
    assert run(dispatcher) == 1
    assert "it was due Mon 23 Nov 2026, 22:30" in inbox.received[0][1].text


def test_late_delivery_after_downtime_is_marked(
    engine: Engine, database: Database, clock: Clock, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    chat.say("/remind in 1 hour call back")
    clock.advance(hours=3)  # the bot was down
    assert run(dispatcher) == 1
    assert "Late" in inbox.received[0][1].text
    assert rows(database, Reminder)[0].late


def test_retries_with_backoff_then_failed_and_shown(
    engine: Engine, database: Database, clock: Clock, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    chat.say("/remind in 1 hour call back")
    clock.advance(hours=1)
    inbox.failures = [DeliveryRetry("Bad Gateway") for _ in range(5)]
    for _ in range(5):
        run(dispatcher)
        clock.advance(minutes=5)
    [reminder] = rows(database, Reminder)
    assert (reminder.status, reminder.attempts) == ("failed", 5)
    assert inbox.received == []
    chat.say("/followups")
    assert "could not be delivered" in chat.text


def test_a_temporary_failure_is_retried_and_delivered_once(
    engine: Engine, database: Database, clock: Clock, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    chat.say("/remind in 1 hour call back")
    clock.advance(hours=1)
    inbox.failures = [DeliveryRetry("rate limited", after=30)]
    assert run(dispatcher) == 0
    clock.advance(seconds=29)
    assert run(dispatcher) == 0  # waits retry_after
    clock.advance(seconds=2)
    assert run(dispatcher) == 1
    assert len(inbox.received) == 1


def test_blocked_user_is_marked_inactive_and_not_written_to_again(
    engine: Engine, database: Database, clock: Clock, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    chat.say("/remind in 1 hour first")
    chat.say("/remind in 2 hours second")
    clock.advance(hours=1)
    inbox.failures = [DeliveryBlocked("Forbidden: bot was blocked by the user")]
    run(dispatcher)
    assert rows(database, User)[0].active is False
    clock.advance(hours=1)
    run(dispatcher)
    assert inbox.received == []
    assert {r.status for r in rows(database, Reminder)} == {"failed"}


def make_visit(database: Database, user_id: int, when: datetime) -> int:
    with Session(database) as session:
        account = Account(owner_id=user_id, name="Huaxin Steel")
        session.add(account)
        session.flush()
        visit = Visit(
            owner_id=user_id, account_id=account.id or 0, planned_at=when, objective="Agree a trial"
        )
        session.add(visit)
        session.flush()
        user = session.get(User, user_id)
        assert user is not None
        schedule_visit_reminders(session, visit, user)
        session.commit()
        return visit.id or 0


def test_visit_brief_before_and_how_did_it_go_after(
    engine: Engine, database: Database, clock: Clock, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    visit_time = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 14:00 local
    make_visit(database, 1, visit_time)
    clock.now = visit_time - timedelta(minutes=60)
    assert run(dispatcher) == 1
    brief = inbox.received[-1][1]
    assert "Huaxin Steel" in brief.text and "Postpone" in str(brief.buttons)
    clock.now = visit_time + timedelta(minutes=90)
    assert run(dispatcher) == 1
    ask = inbox.received[-1][1]
    assert "How did the visit to Huaxin Steel go?" in ask.text
    chat.replies = [ask]
    chat.press("Later")
    assert "ask again" in chat.text
    clock.advance(hours=2)
    assert run(dispatcher) == 1
    chat.replies = [inbox.received[-1][1]]
    chat.press("Later")
    clock.advance(hours=2)
    assert run(dispatcher) == 1
    assert "Later" not in str(inbox.received[-1][1].buttons)  # put off at most twice
    assert "Debrief now" in str(inbox.received[-1][1].buttons)


def test_postponing_a_visit_moves_its_reminders(
    engine: Engine, database: Database, clock: Clock, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    visit_time = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    make_visit(database, 1, visit_time)
    clock.now = visit_time - timedelta(minutes=60)
    run(dispatcher)
    chat.replies = [inbox.received[-1][1]]
    chat.press("Postpone")
    chat.say("tomorrow 3pm")
    chat.say("yes")
    assert "Visit moved to" in chat.text
    due = {r.kind: r.due_at for r in rows(database, Reminder)}
    assert due["visit_brief"] == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    assert due["visit_debrief"] == datetime(2026, 11, 24, 8, 30, tzinfo=UTC)


def test_timezone_change_keeps_local_clock_time(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    chat.say("/remind tomorrow 9am call Wang")
    chat.say("/timezone")
    chat.say("Europe/London")
    [reminder] = rows(database, Reminder)
    assert reminder.due_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # still 09:00 local


def test_settings_change_lead_time_and_quiet_hours(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.onboard()
    chat.say("/settings")
    assert "60 minutes before" in chat.text
    chat.press("Brief lead time")
    chat.say("2000")
    assert "from 0 to 1440" in chat.text
    chat.say("30")
    chat.say("/settings")
    chat.press("Quiet hours")
    chat.say("25:00")
    assert "time of day" in chat.text
    chat.say("22:00")
    chat.say("7")
    user = rows(database, User)[0]
    assert (user.brief_lead_minutes, user.quiet_start, user.quiet_end) == (30, "22:00", "07:00")


def test_another_users_reminder_button_does_nothing(
    engine: Engine, database: Database, clock: Clock, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    owner = Chat(engine, user_id="1")
    owner.onboard(zone="Shanghai")
    owner.say("/remind in 1 hour secret task")
    other = Chat(engine, user_id="2", name="Eve")
    other.onboard(zone="Shanghai")
    [reminder] = rows(database, Reminder)
    other.send(Incoming.pressed(f"@r{reminder.id}:done"))
    assert "older message" in other.text
    assert rows(database, FollowUp)[0].status == "open"


def test_two_dispatchers_deliver_each_reminder_once(
    engine: Engine, database: Database, clock: Clock, inbox: Inbox
) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    for index in range(30):
        chat.say(f"/remind in 1 hour task {index}")
    clock.advance(hours=1)
    config = DispatchConfig(per_chat_interval=0.0, batch=7)
    first = Dispatcher(engine, "telegram", inbox, config)
    second = Dispatcher(engine, "telegram", inbox, config)

    async def both() -> None:
        for _ in range(6):
            await asyncio.gather(first.run_once(), second.run_once())

    asyncio.run(both())
    texts = sorted(message.text for _, message in inbox.received)
    assert len(texts) == 30 and len(set(texts)) == 30


# ----- a visit planned closer than the brief lead time ---------------------------------------


def test_a_brief_inside_the_lead_time_goes_once_now_and_is_not_late(
    engine: Engine, database: Database, clock: Clock, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    visit_time = clock.now + timedelta(minutes=30)  # the brief's lead time is 60 minutes
    with Session(database) as session:
        account = Account(owner_id=1, name="Huaxin Steel")
        session.add(account)
        session.flush()
        visit = Visit(owner_id=1, account_id=account.id or 0, planned_at=visit_time)
        session.add(visit)
        session.flush()
        user = session.get(User, 1)
        assert user is not None
        schedule_visit_reminders(session, visit, user, now=clock.now)
        session.commit()
    due = {r.kind: r.due_at.replace(tzinfo=UTC) for r in rows(database, Reminder)}
    assert due["visit_brief"] == clock.now  # not 30 minutes in the past
    clock.advance(seconds=2)  # the dispatcher's next look
    assert run(dispatcher) == 1
    [(_, brief)] = inbox.received
    assert "Huaxin Steel" in brief.text
    assert "Late" not in brief.text and "was due" not in brief.text
    assert run(dispatcher) == 0  # once


def test_a_brief_already_shown_is_not_sent_again(
    engine: Engine, database: Database, clock: Clock, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    visit_id = make_visit(database, 1, clock.now + timedelta(minutes=30))  # old call: no `now`
    with Session(database) as session:
        visit, user = session.get(Visit, visit_id), session.get(User, 1)
        assert visit is not None and user is not None
        schedule_visit_reminders(session, visit, user, now=clock.now, brief_shown=True)
        session.commit()
    statuses = {r.kind: r.status for r in rows(database, Reminder)}
    assert statuses == {"visit_brief": "cancelled", "visit_debrief": "pending"}
    assert run(dispatcher) == 0
    # A visit far enough ahead still gets its brief before it, shown or not.
    far = make_visit(database, 1, clock.now + timedelta(hours=5))
    with Session(database) as session:
        visit, user = session.get(Visit, far), session.get(User, 1)
        assert visit is not None and user is not None
        schedule_visit_reminders(session, visit, user, now=clock.now, brief_shown=True)
        session.commit()
    brief = next(r for r in rows(database, Reminder) if r.dedup_key == f"visit:{far}:brief")
    assert (brief.status, brief.due_at.replace(tzinfo=UTC)) == (
        "pending",
        clock.now + timedelta(hours=4),
    )


def test_a_new_lead_time_neither_resends_a_delivered_brief_nor_makes_one_late(
    engine: Engine, database: Database, clock: Clock, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    chat = Chat(engine)
    chat.onboard(zone="Shanghai")
    delivered = make_visit(database, 1, clock.now + timedelta(minutes=30))
    run(dispatcher)  # the 60-minute lead has passed: the brief goes now
    assert [r.status for r in rows(database, Reminder) if r.kind == "visit_brief"] == ["sent"]
    upcoming = make_visit(database, 1, clock.now + timedelta(minutes=90))
    chat.say("/settings")
    chat.press("Brief lead time")
    chat.say("120")  # the upcoming visit's brief is now due 30 minutes ago
    briefs = {r.visit_id: r for r in rows(database, Reminder) if r.kind == "visit_brief"}
    assert briefs[delivered].status == "sent"  # not re-armed by the new lead time
    assert briefs[upcoming].due_at.replace(tzinfo=UTC) == clock.now  # due now, not late
    sent_before = len(inbox.received)
    clock.advance(seconds=2)
    assert run(dispatcher) == 1
    [(_, brief)] = inbox.received[sent_before:]
    assert "Late" not in brief.text and "was due" not in brief.text
