"""End to end: the real Application over HTTP against the fake Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from storage.db import make_engine
from storage.models import Membership, Team, User
from tests.e2e import Person, RunningBot, group_of, settings_for
from tests.fake_telegram import FakeTelegram, FakeUser


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


def users(bot: RunningBot) -> list[User]:
    with Session(make_engine(bot.settings.database_url)) as session:
        return list(session.exec(select(User)))


async def test_onboarding_in_english_with_buttons(bot: RunningBot, fake: FakeTelegram) -> None:
    anna = Person(fake, FakeUser(501, "Anna", "en-GB"))
    [greeting] = await anna.say("/start")
    assert "Hi! I'm <b>SalesCoach</b>" in (greeting.text or "")
    assert greeting.parse_mode == "HTML"
    await anna.press("Anna")
    [zone] = await anna.press("Sales rep")
    assert "time zone" in (zone.plain_text or "")
    await anna.press("London")
    done = await anna.press("Skip", replies=2)
    assert "All set, Anna!" in (done[0].plain_text or "")
    assert "/whoami" in (done[1].plain_text or "")
    # Each answered question's buttons were removed from its message.
    assert fake.calls_of("editMessageReplyMarkup")
    [user] = users(bot)
    assert (user.role, user.timezone, user.language) == ("rep", "Europe/London", "en")


async def test_onboarding_in_chinese_by_typing(bot: RunningBot, fake: FakeTelegram) -> None:
    wang = Person(fake, FakeUser(502, "王", "zh-hans", last_name="芳"))
    [greeting] = await wang.say("/start")
    assert "你好" in (greeting.plain_text or "")
    await wang.say("芳姐")
    await wang.say("2")
    await wang.say("上海")
    done = await wang.say("/skip", replies=3)
    assert "设置完成，芳姐" in (done[0].plain_text or "")
    assert "/newteam" in (done[1].plain_text or "")
    [user] = users(bot)
    assert (user.role, user.timezone, user.language) == ("manager", "Asia/Shanghai", "zh")


async def test_command_menus_are_set_per_language(bot: RunningBot, fake: FakeTelegram) -> None:
    english = fake.commands[("default", "en")]
    chinese = fake.commands[("default", "zh")]
    assert {command["command"] for command in english} >= {"start", "help", "cancel"}
    assert any(
        "中文" in command["description"] or "设置" in command["description"] for command in chinese
    )


async def test_deep_link_joins_a_team(bot: RunningBot, fake: FakeTelegram) -> None:
    boss = Person(fake, FakeUser(601, "Zhang", "en"))
    await boss.say("/start")
    await boss.press("Zhang")
    await boss.press("Sales manager")
    await boss.press("Shanghai")
    await boss.press("Skip", replies=3)
    created = await boss.say("/newteam East & North", replies=2)
    link = next(word for word in (created[1].plain_text or "").split() if "t.me/" in word)
    assert link.startswith("https://t.me/salescoach_test_bot?start=join_")
    code = link.split("start=", 1)[1]

    rep = Person(fake, FakeUser(602, "Chen", "en"))
    await rep.say(f"/start {code}")
    await rep.press("Chen")
    await rep.press("Sales rep")
    done = await rep.press("Singapore", replies=3)
    assert "joined <b>East &amp; North</b>" in (done[1].text or "")
    with Session(make_engine(bot.settings.database_url)) as session:
        assert len(session.exec(select(Membership)).all()) == 2


async def test_group_chat_is_refused(bot: RunningBot, fake: FakeTelegram) -> None:
    user = FakeUser(701, "Lee", "en")
    group = group_of()
    fake.send_text(user, "/start", chat=group)
    note = await fake.next_message(group.id)
    assert "message me privately" in (note.plain_text or "")
    assert users(bot) == []


async def test_photo_in_a_text_step_is_re_asked(bot: RunningBot, fake: FakeTelegram) -> None:
    kim = Person(fake, FakeUser(801, "Kim", "en"))
    await kim.say("/start")
    fake.send_photo(kim.user)
    error, question = await kim.read(2)
    assert "typed answer" in (error.plain_text or "")
    assert "what should I call you" in (question.plain_text or "")
    fake.send_sticker(kim.user)
    error, _ = await kim.read(2)
    assert "typed answer" in (error.plain_text or "")
    [user] = users(bot)
    assert user.onboarded_at is None and user.role is None


async def test_stale_button_gets_a_notice_and_the_question_again(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    ola = Person(fake, FakeUser(901, "Ola", "en"))
    [greeting] = await ola.say("/start")
    name_button = greeting.button("Ola")
    await ola.press("Ola")
    fake.press(ola.user, greeting, name_button, must_exist=False)
    [question] = await ola.read(1)
    assert "What's your role?" in (question.plain_text or "")
    assert any("older message" in (answer.get("text") or "") for answer in fake.callback_answers)


async def test_overlong_text_is_refused(bot: RunningBot, fake: FakeTelegram) -> None:
    max_ = Person(fake, FakeUser(902, "Max", "en"))
    await max_.say("/start")
    error, _ = await max_.say("x" * 5000, replies=2)
    assert "too long" in (error.plain_text or "")


async def test_restart_mid_onboarding_continues_at_the_same_step(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "restart.db")
    first = RunningBot(fake, settings)
    await first.start()
    mia = Person(fake, FakeUser(903, "Mia", "en"))
    await mia.say("/start")
    await mia.press("Mia")
    await mia.press("Trainee")
    await first.stop()

    second = RunningBot(fake, settings)
    await second.start()
    try:
        [invite] = await mia.say("Hong Kong")
        assert "invite link or code" in (invite.plain_text or "")
        done = await mia.say("/skip", replies=2)
        assert "All set, Mia!" in (done[0].plain_text or "")
    finally:
        await second.stop()
    assert fake.errors == []


def _quiet_hours_off(bot: RunningBot, telegram_id: int) -> None:
    """No quiet hours for this person, whatever the time of the test run."""
    with Session(make_engine(bot.settings.database_url)) as session:
        user = session.exec(select(User).where(User.platform_user_id == str(telegram_id))).one()
        user.quiet_start = user.quiet_end = "00:00"
        session.add(user)
        session.commit()


async def _manager_with_team(fake: FakeTelegram, person: FakeUser, team: str) -> tuple[Person, str]:
    boss = Person(fake, person)
    await boss.say("/start")
    await boss.press(person.first_name)
    await boss.press("Sales manager")
    await boss.press("Shanghai")
    await boss.press("Skip", replies=3)
    created = await boss.say(f"/newteam {team}", replies=2)
    link = next(word for word in (created[1].plain_text or "").split() if "t.me/" in word)
    return boss, link


async def test_joining_a_second_team_asks_first_and_tells_the_old_manager(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "switch.db").model_copy(
        update={"dispatch_interval": 0.2}
    )
    bot = RunningBot(fake, settings)
    await bot.start()
    try:
        east, east_link = await _manager_with_team(fake, FakeUser(611, "Wang", "en"), "East")
        west, west_link = await _manager_with_team(fake, FakeUser(612, "Zhou", "en"), "West")
        _quiet_hours_off(bot, 611)
        rep = Person(fake, FakeUser(613, "Chen", "en"))
        await rep.say(f"/start {east_link.split('start=', 1)[1]}")
        await rep.press("Chen")
        await rep.press("Sales rep")
        done = await rep.press("Singapore", replies=3)
        assert "joined <b>East</b>" in (done[1].text or "")

        [question] = await rep.say(f"/join {west_link}")
        assert "You're in team East. Join West instead? You'll leave East." in (
            question.plain_text or ""
        )
        [switched] = await rep.press("Join West")
        assert "You've left <b>East</b>" in (switched.text or "")
        assert "joined <b>West</b>" in (switched.text or "")
        with Session(make_engine(bot.settings.database_url)) as session:
            chen = session.exec(select(User).where(User.platform_user_id == "613")).one()
            teams = session.exec(
                select(Team.name)
                .join(Membership, Membership.team_id == Team.id)  # type: ignore[arg-type]
                .where(Membership.user_id == chen.id)
            ).all()
        assert teams == ["West"]

        # East's manager hears it from the reminder dispatcher; West's hears nothing.
        told = await fake.next_message(east.user.id, timeout=10)
        assert "Chen has left East to join another team" in (told.plain_text or "")
        assert fake.unread(west.user.id) == []
    finally:
        await bot.stop()
    assert fake.errors == [], f"the bot made invalid API calls: {fake.errors}"
