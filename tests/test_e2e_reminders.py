"""Reminders end to end: the real bot over HTTP, killed with SIGKILL, and two processes at once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import FollowUp, Reminder, User, utcnow
from storage.reminders import schedule_follow_up
from tests.e2e import BotProcess, Person, RunningBot, settings_for
from tests.fake_telegram import FakeChat, FakeTelegram, FakeUser


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    settings = settings_for(fake, tmp_path / "e2e.db").model_copy(update={"dispatch_interval": 0.2})
    running = RunningBot(fake, settings)
    await running.start()
    yield running
    await running.stop()


def add_users(database_url: str, fake: FakeTelegram, count: int, first_id: int = 5000) -> list[int]:
    """Onboarded users straight in the database (their chats known to the fake)."""
    engine = make_engine(database_url)
    upgrade(engine)
    ids = []
    with Session(engine) as session:
        for offset in range(count):
            telegram_id = first_id + offset
            person = FakeUser(telegram_id, f"Rep {offset}", "en")
            fake.add_chat(FakeChat.private(person), person)
            user = User(
                platform="telegram",
                platform_user_id=str(telegram_id),
                display_name=f"Rep {offset}",
                role="rep",
                timezone="UTC",
                quiet_start="00:00",
                quiet_end="00:00",  # no quiet hours, whatever the time of the test run
                onboarded_at=utcnow(),
            )
            session.add(user)
            session.flush()
            ids.append(user.id or 0)
        session.commit()
    engine.dispose()
    return ids


def add_follow_ups(
    database_url: str, user_ids: list[int], per_user: int, due_ago: timedelta, label: str = ""
) -> None:
    engine = make_engine(database_url)
    with Session(engine) as session:
        for user_id in user_ids:
            for index in range(per_user):
                follow_up = FollowUp(
                    owner_id=user_id,
                    text=f"task {label}{user_id}-{index}",
                    due_at=utcnow() - due_ago,
                )
                session.add(follow_up)
                session.flush()
                schedule_follow_up(session, follow_up)
        session.commit()
    engine.dispose()


def reminder_statuses(database_url: str) -> Counter[str]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        statuses = Counter(r.status for r in session.exec(select(Reminder)))
    engine.dispose()
    return statuses


def task_messages(fake: FakeTelegram) -> Counter[str]:
    return Counter(
        line
        for message in fake.sent
        for line in (message.plain_text or "").splitlines()
        if line.startswith("task ")
    )


async def test_reminder_buttons_over_telegram(bot: RunningBot, fake: FakeTelegram) -> None:
    lee = Person(fake, FakeUser(4242, "Lee", "en"))
    await lee.say("/start")
    await lee.press("Lee")
    await lee.press("Sales rep")
    await lee.say("UTC")
    await lee.say("/skip", replies=2)
    with Session(make_engine(bot.settings.database_url)) as session:
        user = session.exec(select(User)).one()
        user.quiet_start = user.quiet_end = "00:00"
        session.add(user)
        session.commit()
    [confirmation] = await lee.say("/remind in 1 minute call the buyer")
    assert "call the buyer" in (confirmation.plain_text or "")
    add_follow_ups(bot.settings.database_url, [1], 1, timedelta(minutes=1))
    reminder = await fake.next_message(lee.user.id, timeout=10)
    assert "task 1-0" in (reminder.plain_text or "")
    fake.press(lee.user, reminder, reminder.button("Snooze"))
    await fake.wait_until(lambda: bool(reminder.edits), timeout=5)
    assert "again" in (reminder.plain_text or "")  # the same message now says when it returns
    assert fake.errors == []


async def test_rate_limit_and_server_errors_are_retried(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    user_ids = add_users(bot.settings.database_url, fake, 1)
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    fake.fail_next("sendMessage", 502, "Bad Gateway")
    add_follow_ups(bot.settings.database_url, user_ids, 1, timedelta(minutes=1))
    await fake.wait_until(lambda: task_messages(fake) == Counter({"task 1-0": 1}), timeout=15)
    await asyncio.sleep(0.5)
    assert task_messages(fake) == Counter({"task 1-0": 1})
    assert reminder_statuses(bot.settings.database_url) == Counter({"sent": 1})


async def test_blocked_user_becomes_inactive(bot: RunningBot, fake: FakeTelegram) -> None:
    [user_id] = add_users(bot.settings.database_url, fake, 1)
    fake.block(FakeUser(5000, "Rep 0", "en"))
    add_follow_ups(bot.settings.database_url, [user_id], 2, timedelta(minutes=1))
    await fake.wait_until(
        lambda: reminder_statuses(bot.settings.database_url) == Counter({"failed": 2}), timeout=15
    )
    with Session(make_engine(bot.settings.database_url)) as session:
        assert session.exec(select(User)).one().active is False


def wait_for(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_sigkill_then_restart_delivers_what_fell_due_once(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'killed.db'}"
    user_ids = add_users(database_url, fake, 3)
    first = BotProcess(fake, database_url, tmp_path / "bot.log")
    first.start()
    try:
        wait_for(lambda: fake.calls_of("getUpdates"), timeout=30)
        first.kill()
        # While it is down: one batch is long overdue, another only just due.
        add_follow_ups(database_url, user_ids, 1, timedelta(minutes=30))
        add_follow_ups(database_url, user_ids[:1], 1, timedelta(seconds=5), label="fresh ")
        second = BotProcess(fake, database_url, tmp_path / "bot.log")
        second.start()
        try:
            wait_for(lambda: sum(task_messages(fake).values()) >= 4, timeout=30)
            time.sleep(1.0)
        finally:
            second.stop()
    finally:
        first.stop()
    counts = task_messages(fake)
    assert sorted(counts.values()) == [1, 1, 1, 1]  # each once
    late = [m for m in fake.sent if "Late:" in (m.plain_text or "")]
    assert len(late) == 3  # the three that were 30 minutes late say so
    assert reminder_statuses(database_url) == Counter({"sent": 4})


def test_two_bot_processes_on_postgres_deliver_each_reminder_once(
    fake: FakeTelegram, postgres_database: str, tmp_path: Path
) -> None:
    user_ids = add_users(postgres_database, fake, 40)
    add_follow_ups(postgres_database, user_ids, 3, timedelta(seconds=1))
    bots = [BotProcess(fake, postgres_database, tmp_path / f"bot{i}.log") for i in range(2)]
    for process in bots:
        process.start()
    try:
        wait_for(lambda: sum(task_messages(fake).values()) >= 120, timeout=60)
        time.sleep(2.0)  # give a duplicate, if any, the chance to show up
    finally:
        for process in bots:
            process.stop()
    counts = task_messages(fake)
    assert len(counts) == 120 and set(counts.values()) == {1}
    assert reminder_statuses(postgres_database) == Counter({"sent": 120})
