"""Faults: a dropped getUpdates connection, SIGKILL mid-dialog, and concurrent SQLite writers."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from dialogs.catalog import ACTIONS, COMMANDS, DIALOGS
from dialogs.engine import Engine
from dialogs.io import Incoming, Sender
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import User
from tests.e2e import BotProcess, Person, RunningBot, settings_for
from tests.fake_telegram import FakeTelegram, FakeUser


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    running = RunningBot(fake, settings_for(fake, tmp_path / "faults.db"))
    await running.start()
    yield running
    await running.stop()


async def test_a_dropped_get_updates_connection_loses_nothing(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    fake.fail_next("getUpdates", 200, "", drop_connection=True, times=2)
    person = Person(fake, FakeUser(9301, "Ravi", "en"))
    [greeting] = await person.say("/start")
    assert "what should I call you" in (greeting.plain_text or "")
    [question] = await person.say("Ravi K")
    assert "What's your role?" in (question.plain_text or "")
    assert len(fake.messages_to(person.user.id)) == 2  # nothing sent twice


def test_sigkill_mid_dialog_keeps_every_answer_and_sends_nothing_twice(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'killed.db'}"
    person = FakeUser(9302, "Mei", "en")
    first = BotProcess(fake, database_url, tmp_path / "bot.log")
    first.start()
    try:
        fake.send_text(person, "/start")
        wait_for(lambda: len(fake.messages_to(person.id)) == 1)
        fake.send_text(person, "Mei Lin")
        wait_for(lambda: len(fake.messages_to(person.id)) == 2)
        first.kill()
        fake.send_text(person, "3")  # typed while the bot is down: Trainee
        second = BotProcess(fake, database_url, tmp_path / "bot.log")
        second.start()
        try:
            wait_for(lambda: len(fake.messages_to(person.id)) == 3, timeout=30)
            time.sleep(1.0)
        finally:
            second.stop()
    finally:
        first.stop()
    texts = [message.plain_text or "" for message in fake.messages_to(person.id)]
    assert len(texts) == 3 and len(set(texts)) == 3
    assert "time zone" in texts[2]  # the answer typed during the outage was applied once
    with Session(make_engine(database_url)) as session:
        assert session.exec(select(User)).one().display_name == "Mei"  # not yet saved: in state


def wait_for(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_concurrent_sqlite_writers_wait_instead_of_failing(tmp_path: Path) -> None:
    database = make_engine(f"sqlite:///{tmp_path / 'busy.db'}")
    upgrade(database)
    engine = Engine(database, dialogs=DIALOGS, commands=COMMANDS, actions=ACTIONS)
    errors: list[BaseException] = []

    def talk(user_id: int) -> None:
        sender = Sender("telegram", str(user_id), f"User {user_id}", "en")
        try:
            for text in ("/start", "Someone", "1", "UTC", "/skip", "/whoami"):
                engine.handle(sender, Incoming.typed(text))
        except BaseException as error:  # collected: a thread's exception is otherwise lost
            errors.append(error)

    threads = [threading.Thread(target=talk, args=(100 + index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with Session(database) as session:
        users = session.exec(select(User)).all()
        assert len(users) == 12 and all(user.onboarded_at for user in users)
