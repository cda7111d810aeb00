"""Terminal sessions show only their own person's messages, and due ones arrive unasked.

Reminders, a manager's comments and drill news are all reminder rows; each
`salescoach chat` session claims its own person's rows alone, and looks for them
while it waits for input.
"""

from __future__ import annotations

import io
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from bot.terminal import chat, due_reminders, user_folder
from dialogs.core.engine import Engine
from dialogs.core.io import Sender
from storage.comments import add_comment, comment_key
from storage.db import make_engine, transaction
from storage.migrate import upgrade
from storage.models import Debrief, FollowUp, Reminder, User, utcnow
from storage.reminders import PENDING, SENT, schedule, schedule_follow_up
from tests.conftest import FIXED_NOW

ROOT = Path(__file__).resolve().parent.parent


def terminal(name: str) -> Sender:
    return Sender("terminal", name, name, "en")


def add_user(session: Session, name: str, role: str = "rep") -> User:
    user = User(
        platform="terminal",
        platform_user_id=name,
        display_name=name,
        role=role,
        onboarded_at=utcnow(),
        quiet_start="00:00",  # no quiet hours: the test may run at any time of day
        quiet_end="00:00",
    )
    session.add(user)
    session.flush()
    return user


def follow_up(database: Database, user_id: int, text: str, due: datetime) -> int:
    with transaction(database) as session:
        row = FollowUp(owner_id=user_id, text=text, due_at=due)
        session.add(row)
        session.flush()
        return schedule_follow_up(session, row).id or 0


def comment(database: Database, manager_id: int, rep_id: int, text: str, at: datetime) -> int:
    """A manager's comment on the rep's debrief, queued for delivery as the dialog does it."""
    with transaction(database) as session:
        debrief = Debrief(owner_id=rep_id, outcome="advance", created_at=at)
        session.add(debrief)
        session.flush()
        note = add_comment(session, manager_id, debrief.id or 0, text, at)
        reminder = schedule(
            session, user_id=rep_id, kind="comment", dedup_key=comment_key(note.id or 0), due_at=at
        )
        return reminder.id or 0


def status(database: Database, reminder_id: int) -> str:
    with transaction(database) as session:
        reminder = session.get(Reminder, reminder_id)
        assert reminder is not None
        return reminder.status


@pytest.fixture
def people(database: Database) -> dict[str, int]:
    with transaction(database) as session:
        return {
            name: add_user(session, name, role).id or 0
            for name, role in (("wang", "manager"), ("meilin", "rep"), ("wei", "rep"))
        }


def test_each_session_gets_only_its_own_reminders_and_comments(
    engine: Engine, database: Database, people: dict[str, int]
) -> None:
    due = FIXED_NOW - timedelta(minutes=5)
    for_meilin = follow_up(database, people["meilin"], "Send the quote to Acme", due)
    for_wei = follow_up(database, people["wei"], "Call Mr Zhao back", due)
    note = comment(database, people["wang"], people["wei"], "Ask about the budget first", due)

    manager = due_reminders(engine, terminal("wang"))
    assert manager == []  # nothing is for the manager; nothing of the reps shows up here
    assert status(database, for_meilin) == status(database, for_wei) == PENDING

    meilin = "\n".join(message.text for message in due_reminders(engine, terminal("meilin")))
    assert "Send the quote to Acme" in meilin
    assert "Call Mr Zhao" not in meilin and "budget" not in meilin
    assert status(database, for_meilin) == SENT
    assert status(database, for_wei) == status(database, note) == PENDING

    wei = "\n".join(message.text for message in due_reminders(engine, terminal("wei")))
    assert "Call Mr Zhao back" in wei and "Ask about the budget first" in wei
    assert "Send the quote" not in wei
    assert due_reminders(engine, terminal("wei")) == []  # delivered once


class Typist:
    """chat() on a thread, fed through a pipe the test writes to when it wants."""

    def __init__(self, engine: Engine, sender: Sender, files: Path) -> None:
        read_end, self.write_end = os.pipe()
        self.stdin = os.fdopen(read_end, "r", encoding="utf-8")
        self.stdout = io.StringIO()
        self.thread = threading.Thread(
            target=chat,
            args=(engine, sender, self.stdin, self.stdout),
            kwargs={"poll_interval": 0.05, "files": files},
            daemon=True,
        )
        self.thread.start()

    def type(self, line: str) -> None:
        os.write(self.write_end, f"{line}\n".encode())

    def wait_for(self, check: Callable[[str], bool], timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(self.stdout.getvalue()):
                return self.stdout.getvalue()
            time.sleep(0.02)
        raise AssertionError(f"not seen in time; the screen shows:\n{self.stdout.getvalue()}")

    def close(self) -> None:
        os.close(self.write_end)
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()
        self.stdin.close()


@pytest.fixture
def open_session(engine: Engine, tmp_path: Path) -> Iterator[Callable[[str], Typist]]:
    typists: list[Typist] = []

    def start(name: str) -> Typist:
        typists.append(Typist(engine, terminal(name), tmp_path / name))
        return typists[-1]

    yield start
    for typist in typists:
        if typist.thread.is_alive():
            typist.close()


def test_a_reminder_appears_while_the_session_waits_for_input(
    database: Database, people: dict[str, int], open_session: Callable[[str], Typist]
) -> None:
    meilin = open_session("meilin")
    meilin.wait_for(lambda screen: screen.rstrip().endswith(">"))
    due = FIXED_NOW - timedelta(minutes=2)
    follow_up(database, people["wei"], "Call Mr Zhao back", due)
    follow_up(database, people["meilin"], "Send the quote to Acme", due)
    later = due + timedelta(minutes=1)
    comment(database, people["wang"], people["meilin"], "Good probing questions", later)

    # Nothing is typed: the session finds them while it waits, and prompts again below them.
    screen = meilin.wait_for(
        lambda s: "Send the quote" in s and "Good probing" in s and s.rstrip().endswith(">")
    )
    assert "Call Mr Zhao" not in screen
    assert "1a ✅ Done" in screen  # the follow-up's buttons can be typed by their code
    meilin.type("1a")
    meilin.close()  # end of input, after the line typed: it is answered first
    with transaction(database) as session:
        done = session.exec(select(FollowUp).where(FollowUp.owner_id == people["meilin"])).one()
        assert done.status == "done"
        assert session.exec(select(FollowUp).where(FollowUp.owner_id == people["wei"])).one()


def test_each_person_has_their_own_files_folder(tmp_path: Path) -> None:
    base = tmp_path / "salescoach-files"
    assert user_folder("meilin", base) == base / "meilin"
    assert user_folder("美琳", base) == base / "美琳"
    # Names that are not safe as a folder get a hash, so two of them never collide.
    assert user_folder("a/b", base) != user_folder("a_b", base)
    assert user_folder("..", base).parent == base
    assert user_folder("../x", base).parent == base


# ----- two people at two terminals, as they run it ----------------------------------------


def salescoach_chat(tmp_path: Path, name: str) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SALESCOACH_")}
    env.update(
        SALESCOACH_DATABASE_URL=f"sqlite:///{tmp_path / 'chat.db'}",
        SALESCOACH_DISPATCH_INTERVAL="0.2",
        LANG="en_GB.UTF-8",
        LC_ALL="",
        PYTHONPATH=str(ROOT),
    )
    env.pop("TELEGRAM_BOT_TOKEN", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat", "--user", name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / f"{name}.log").open("w"),
        text=True,
        env=env,
        cwd=tmp_path,
    )


def reader(process: subprocess.Popen[str]) -> queue.Queue[str]:
    chunks: queue.Queue[str] = queue.Queue()

    stdout = process.stdout
    assert stdout is not None

    def pump() -> None:
        for chunk in iter(lambda: stdout.read(1), ""):
            chunks.put(chunk)

    threading.Thread(target=pump, daemon=True).start()
    return chunks


def read_until(chunks: queue.Queue[str], seen: list[str], wanted: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while wanted not in "".join(seen):
        try:
            seen.append(chunks.get(timeout=max(deadline - time.monotonic(), 0.01)))
        except queue.Empty:
            raise AssertionError(f"{wanted!r} not seen; output:\n{''.join(seen)}") from None
    return "".join(seen)


def test_two_terminals_each_show_only_their_own_person(tmp_path: Path) -> None:
    database = make_engine(f"sqlite:///{tmp_path / 'chat.db'}")
    upgrade(database)
    with transaction(database) as session:
        ids = {name: add_user(session, name).id or 0 for name in ("meilin", "wei")}
    past = utcnow() - timedelta(minutes=5)
    follow_up(database, ids["wei"], "Call Mr Zhao back", past)
    follow_up(database, ids["meilin"], "Send the quote to Acme", past)

    process = salescoach_chat(tmp_path, "meilin")
    chunks, seen = reader(process), []
    try:
        first = read_until(chunks, seen, "> ", timeout=90)
        assert "Send the quote to Acme" in first
        # While meilin's session waits, a comment for her and a follow-up for wei fall due.
        with transaction(database) as session:
            manager = add_user(session, "wang", "manager")
        comment(database, manager.id or 0, ids["meilin"], "Good probing questions", utcnow())
        follow_up(database, ids["wei"], "Book the demo room", utcnow())
        screen = read_until(chunks, seen, "Good probing questions", timeout=30)
    finally:
        assert process.stdin is not None
        process.stdin.write("/quit\n")
        process.stdin.close()
        process.wait(timeout=30)
    assert "Call Mr Zhao" not in screen and "Book the demo room" not in screen
    with transaction(database) as session:
        waiting = session.exec(select(Reminder).where(Reminder.user_id == ids["wei"])).all()
        assert {reminder.status for reminder in waiting} == {PENDING}
    database.dispose()
