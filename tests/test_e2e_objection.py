"""End to end: `/objection` through the real Application and the fake Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from storage.db import make_engine
from storage.models import ObjectionLog
from tests.e2e import Person, RunningBot, settings_for
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


def objection_logs(bot: RunningBot) -> list[ObjectionLog]:
    with Session(make_engine(bot.settings.database_url)) as session:
        return list(session.exec(select(ObjectionLog)))


async def onboard(person: Person, name: str, zone: str) -> None:
    await person.say("/start")
    await person.press(name)
    await person.press("Sales rep" if zone == "London" else "销售代表")
    await person.press(zone)
    await person.press("Skip" if zone == "London" else "跳过", replies=2)


async def test_objection_from_words_to_a_logged_answer(bot: RunningBot, fake: FakeTelegram) -> None:
    rep = Person(fake, FakeUser(1201, "Nora", "en"))
    await onboard(rep, "Nora", "London")
    [ask] = await rep.say("/objection")
    assert "What did the customer say?" in (ask.plain_text or "")
    kind, probe, respond, confirm, question = await rep.say(
        "Your price is too high & we <really> can't pay that", replies=5
    )
    assert "① The objection: Price too high" in (kind.plain_text or "")
    assert "we <really> can't pay that" in (kind.plain_text or "")  # escaped, shown as typed
    assert kind.parse_mode == "HTML" and not kind.buttons()
    assert "② Find the real reason" in (probe.plain_text or "")
    assert "③ Respond" in (respond.plain_text or "")
    assert "④ Check it's resolved" in (confirm.plain_text or "")
    assert "What did you say" in (question.plain_text or "") and question.buttons()
    await rep.say("I showed the cost per user per month next to the savings")
    [account] = await rep.press("Worked")
    assert "Which account was this?" in (account.plain_text or "")
    [logged] = await rep.press("Skip")
    assert "Logged ✅" in (logged.plain_text or "")
    [entry] = objection_logs(bot)
    assert (entry.objection_type, entry.outcome) == ("price", "worked")
    assert entry.customer_words == "Your price is too high & we <really> can't pay that"


async def test_objection_in_chinese_from_the_command_line_words(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    rep = Person(fake, FakeUser(1202, "王", "zh-hans"))
    await onboard(rep, "王", "上海")
    messages = await rep.say("/objection 我们已经有固定的供应商了", replies=5)
    assert "① 异议类型：已有供应商" in (messages[0].plain_text or "")
    await rep.press("跳过")
    await rep.press("管用")
    [logged] = await rep.press("跳过")
    assert "已记录" in (logged.plain_text or "")
    [entry] = objection_logs(bot)
    assert (entry.objection_type, entry.response, entry.outcome) == ("has_supplier", None, "worked")
