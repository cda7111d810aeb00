"""/mydata, /forget, invite-code guessing limits, and logs free of message text."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine as Database
from sqlmodel import Session, select

from bot.logs import _OurHandler, configure_logging
from dialogs.core.engine import Engine
from storage.models import Account, FollowUp, Membership, ObjectionLabel, User, Visit
from tests.e2e import Person, RunningBot, settings_for
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.helpers import Chat


def add_account_and_visit(database: Database, owner_id: int) -> None:
    with Session(database) as session:
        account = Account(owner_id=owner_id, name="Huaxin Steel")
        session.add(account)
        session.flush()
        visit = Visit(
            owner_id=owner_id,
            account_id=account.id or 0,
            planned_at=datetime(2026, 11, 24, 2, 0, tzinfo=UTC),
            objective="Get Mr Wang (phone 13800138000) to agree to a trial",
        )
        session.add(visit)
        session.commit()


def test_mydata_exports_everything_as_json(engine: Engine, database: Database) -> None:
    chat = Chat(engine)
    chat.onboard()
    add_account_and_visit(database, 1)
    chat.say("/remind tomorrow 9am call Mr Wang")
    chat.say("/mydata")
    [export] = [reply for reply in chat.replies if reply.attachments]
    dump = json.loads(export.attachments["salescoach-data.json"])
    assert dump["user"]["display_name"] == "Li Lei"
    assert dump["accounts"][0]["name"] == "Huaxin Steel"
    assert "13800138000" in dump["visits"][0]["objective"]
    assert dump["follow_ups"][0]["text"] == "call Mr Wang"


def test_forget_after_confirmation_keeps_only_anonymous_counts(
    engine: Engine, database: Database
) -> None:
    manager = Chat(engine, user_id="2", name="Boss")
    manager.onboard(role="Sales manager")
    manager.say("/newteam East")
    code = manager.text.rsplit("join_", 1)[1].split()[0]
    chat = Chat(engine)
    chat.say(f"/start join_{code}")
    chat.press("Li Lei")
    chat.press("Sales rep")
    chat.press("Shanghai")
    add_account_and_visit(database, 2)
    chat.say("/remind tomorrow 9am call Mr Wang")
    chat.say("/objection xq zv jj wq")  # words the model can't read: the rep picks the type
    chat.press("Price too high")
    chat.say("/cancel")
    with Session(database) as session:
        assert session.exec(select(ObjectionLabel)).one().text == "xq zv jj wq"
    chat.say("/forget")
    chat.press("No")
    assert "nothing was deleted" in chat.text
    chat.say("/forget")
    chat.press("Yes")
    assert "your data has been deleted" in chat.text
    with Session(database) as session:
        user = session.exec(select(User).where(User.id == 2)).one()
        assert user.display_name == "" and user.platform_user_id == "forgotten:2"
        visit = session.exec(select(Visit)).one()  # still counted…
        assert visit.objective is None  # …but says nothing
        assert session.exec(select(Account)).one().name == "—"
        assert session.exec(select(FollowUp)).all() == []
        assert session.exec(select(ObjectionLabel)).all() == []  # the rep's words are gone
        assert session.exec(select(Membership).where(Membership.user_id == 2)).one()
        manager_row = session.exec(select(User).where(User.id == 1)).one()
        assert manager_row.display_name == "Boss"  # nobody else is touched
    chat.say("/start")
    assert "what should I call you" in chat.text  # a fresh start


def test_five_wrong_invite_codes_block_further_attempts(engine: Engine) -> None:
    manager = Chat(engine, user_id="2", name="Boss")
    manager.onboard(role="Sales manager")
    manager.say("/newteam East")
    code = manager.text.rsplit("join_", 1)[1].split()[0]
    guesser = Chat(engine, user_id="3", name="Guess")
    guesser.onboard()
    for attempt in range(4):
        guesser.say(f"/join wrongcode{attempt:012d}")
        assert "isn't valid" in guesser.text
    guesser.say("/join wrongcode000000000004")
    assert "Too many wrong invite codes" in guesser.text
    guesser.say(f"/join {code}")  # even the right code waits now
    assert "Too many wrong invite codes" in guesser.text
    later = Engine(
        engine.database,
        dialogs=list(engine.dialogs.values()),
        commands=list(engine.commands.values()),
        clock=lambda: datetime.now(UTC) + timedelta(minutes=11),
    )
    after = Chat(later, user_id="3", name="Guess")
    after.say(f"/join {code}")
    assert "You've joined <b>East</b>" in after.text


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    running = RunningBot(fake, settings_for(fake, tmp_path / "logs.db"))
    await running.start()
    yield running
    await running.stop()


async def test_logs_never_contain_message_text_phone_numbers_or_the_token(
    bot: RunningBot, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("DEBUG", [fake.token])  # the product's own set-up, at its most verbose
    caplog.set_level(logging.DEBUG)
    secret_name = "Zhang Secretname"
    phone = "13912345678"
    person = Person(fake, FakeUser(777, "Zhang", "en"))
    await person.say("/start")
    await person.say(secret_name)
    await person.press("Sales rep")
    await person.say(f"call me on {phone}")  # not a time zone: an error, and a re-ask
    await person.read(1)
    await person.say("UTC+8")
    await person.say("/skip", replies=2)
    await person.say(f"/remind tomorrow 9am call {phone}")
    fake.send_photo(person.user)
    await person.read(1)
    # A failed call is logged with its traceback; the HTTP error named the URL, token and all.
    fake.fail_next("sendMessage", 200, "", drop_connection=True)  # delivered, answer lost
    # Telegram had it, the bot can't know: the outbox sends it again (see the README).
    [profile, again] = await person.say("/whoami", replies=2)
    assert again.plain_text == profile.plain_text
    assert "NetworkError" in caplog.text
    logged = caplog.text
    assert logged, "expected some log output to scan"
    for secret in (secret_name, phone, fake.token, "call me on"):
        assert secret not in logged


def test_a_traceback_naming_the_token_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    token = "123456:SECRET-token"
    configure_logging("INFO", [token])
    try:
        try:
            raise OSError(f"connection reset: POST http://127.0.0.1/bot{token}/sendMessage")
        except OSError:
            logging.getLogger("bot.test").exception("sending failed")
        written = capsys.readouterr().err
    finally:
        root = logging.getLogger()
        root.handlers[:] = [h for h in root.handlers if not isinstance(h, _OurHandler)]
    assert "sending failed" in written and "connection reset" in written
    assert token not in written and "<redacted>" in written
