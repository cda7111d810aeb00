"""/account, /accounts, /probe and /today end to end, over HTTP against the fake Bot API."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from storage.db import make_engine
from storage.models import Account, ProbePlan
from tests.e2e import Person, RunningBot, settings_for
from tests.fake_telegram import FakeTelegram, FakeUser, SentMessage


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


async def answer(person: Person, text: str, expect: str) -> SentMessage:
    """Type `text`, then read the bot's messages until one contains `expect`."""
    person.fake.send_text(person.user, text)
    deadline = time.monotonic() + 10
    seen: list[str] = []
    while time.monotonic() < deadline:
        message = await person.fake.next_message(person.user.id, timeout=10)
        seen.append((message.plain_text or "")[:60])
        if expect in (message.plain_text or ""):
            return message
    raise AssertionError(f"no reply containing {expect!r}; saw {seen}")


async def onboard(person: Person) -> None:
    await answer(person, "/start", "what should I call you")
    await answer(person, "1", "What's your role?")
    await answer(person, "1", "time zone")
    await answer(person, "Shanghai", "invite link")
    await answer(person, "/skip", "What you can do")


async def test_account_card_and_probe_plan_in_english(bot: RunningBot, fake: FakeTelegram) -> None:
    rep = Person(fake, FakeUser(9101, "Ada", "en"))
    await onboard(rep)
    await answer(rep, "/account", "What is the account called?")
    await answer(rep, "Huaxin Steel", "Which industry")
    await answer(rep, "manufacturing", "funnel")
    await answer(rep, "1", "existing customer")
    await answer(rep, "existing", "contribute")
    await answer(rep, "high", "stable")
    await answer(rep, "low", "Tier")
    await answer(rep, "8", "Long-term impact")
    await answer(rep, "3", "decision chain")
    await answer(rep, "no", "deal")
    card = await answer(rep, "/skip", "Huaxin Steel")
    assert "Decision chain" in (card.plain_text or "")
    await answer(rep, "/accounts", "Which account?")
    shown = await answer(rep, "1", "Recent visits")
    assert "Huaxin Steel" in (shown.plain_text or "")

    mode = await answer(rep, "/probe Huaxin Steel", "What would you like to do?")
    assert any("Plan my questions" in label for label, _ in mode.buttons())
    await answer(rep, "1", "Which directions")
    with Session(make_engine(bot.settings.database_url)) as session:
        account = session.exec(select(Account)).one()
        assert (account.tier, account.value_class) == ("EII", 3)
        assert session.exec(select(ProbePlan)).all() == []  # nothing stored before a plan


async def test_today_in_chinese(bot: RunningBot, fake: FakeTelegram) -> None:
    rep = Person(fake, FakeUser(9102, "小陈", "zh-hans"))
    await answer(rep, "/start", "怎么称呼")
    await answer(rep, "1", "你的角色")
    await answer(rep, "1", "时区")
    await answer(rep, "上海", "邀请")
    await answer(rep, "/skip", "可以使用的功能")
    today = await answer(rep, "/today", "/visit")
    assert today.parse_mode == "HTML"
