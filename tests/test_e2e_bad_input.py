"""Bad input end to end: edited messages, and long escaped text, over the fake Bot API."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.telegram_bot import send_to_chat
from dialogs.core.io import Outgoing
from storage.db import make_engine
from storage.models import DialogState, User
from tests.e2e import Person, RunningBot, settings_for
from tests.fake_telegram import FakeTelegram, FakeUser

EDIT_NOTE_EN = "Edits don't change an answer; send it again."
EDIT_NOTE_ZH = "修改消息不会改变已提交的回答，请重新发送。"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    running = RunningBot(fake, settings_for(fake, tmp_path / "e2e.db"))
    await running.start()
    yield running
    await running.stop()
    assert fake.errors == [], f"the bot made invalid API calls: {fake.errors}"


def stored(bot: RunningBot, telegram_id: int) -> tuple[User, DialogState]:
    with Session(make_engine(bot.settings.database_url)) as session:
        user = session.exec(select(User).where(User.platform_user_id == str(telegram_id))).one()
        state = session.get(DialogState, user.id)
        assert state is not None
        session.expunge_all()
        return user, state


async def edit(person: Person, message_id: int, text: str) -> str:
    """Edit one of the person's messages; the bot answers with exactly one note."""
    person.fake.edit_text(person.user, message_id, text)
    [note] = await person.read(1)
    await asyncio.sleep(0.2)  # anything else the edit caused would have arrived by now
    assert person.fake.unread(person.user.id) == []
    return note.plain_text or ""


async def test_an_edit_to_a_number_picks_nothing(bot: RunningBot, fake: FakeTelegram) -> None:
    anna = Person(fake, FakeUser(9501, "Anna", "en"))
    await anna.say("/start")
    await anna.say("Annie")  # the name; the role question is open now
    name_message = fake.user_message_ids(anna.user.id)[-1]
    _, before = stored(bot, 9501)
    assert before.step == "role"

    assert await edit(anna, name_message, "1") == EDIT_NOTE_EN
    user, after = stored(bot, 9501)
    assert user.role is None
    assert (after.dialog, after.step, after.data) == (before.dialog, before.step, before.data)
    # The open question still takes its answer.
    [zone] = await anna.press("Sales rep")
    assert "time zone" in (zone.plain_text or "")


async def test_an_edit_to_a_command_starts_nothing(bot: RunningBot, fake: FakeTelegram) -> None:
    wang = Person(fake, FakeUser(9502, "王", "zh-hans"))
    await wang.say("/start")
    await wang.say("王芳")
    await wang.say("1")
    await wang.say("上海")
    await wang.say("/skip", replies=2)
    first = fake.user_message_ids(wang.user.id)[0]

    assert await edit(wang, first, "/visit") == EDIT_NOTE_ZH
    _, state = stored(bot, 9502)
    assert state.dialog is None and state.step is None
    # Another edit, another note; the next new message is handled as usual.
    assert await edit(wang, first, "/settings") == EDIT_NOTE_ZH
    [reply] = await wang.say("/whoami")
    assert "王芳" in (reply.plain_text or "")


async def test_an_edit_follows_the_language_the_user_chose(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    # Telegram says English, but the user switched to Chinese during the conversation.
    lee = Person(fake, FakeUser(9503, "Lee", "en"))
    await lee.say("/start")
    await lee.say("Lee")
    await lee.say("1")
    await lee.say("Shanghai")
    await lee.say("/skip", replies=2)
    await lee.say("/language")
    await lee.press("中文")
    assert await edit(lee, fake.user_message_ids(lee.user.id)[0], "hello") == EDIT_NOTE_ZH


async def test_long_escaped_text_arrives_whole_in_valid_parts(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    # The fake server parses every part as Telegram does: a cut entity or tag fails.
    user = FakeUser(9504, "Kim", "en")
    fake.send_text(user, "/start")
    await fake.next_message(user.id)
    typed = "&<>\"'" * 1000
    text = f"💬 <b>{html.escape(typed[:300])}</b>\n{html.escape(typed)}"
    await send_to_chat(bot.application.bot, user.id, Outgoing(text))
    parts = fake.messages_to(user.id)[1:]
    assert len(parts) > 1
    assert all(len(part.text or "") <= 4096 for part in parts)
    shown = "".join(part.plain_text or "" for part in parts)
    assert shown.replace("\n", "") == f"💬 {typed[:300]}{typed}"
