"""End to end: a role-play drill and /progress through the real Application and fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from playbooks.loader import load_playbooks
from storage.db import make_engine
from storage.models import Drill
from tests.e2e import Person, RunningBot, settings_for
from tests.fake_telegram import FakeTelegram, FakeUser

PNG = b"\x89PNG\r\n\x1a\n"
TOO_BUSY = load_playbooks().scenarios["insurance-too-busy"]


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


def finished_drills(bot: RunningBot) -> list[Drill]:
    engine = make_engine(bot.settings.database_url)
    with Session(engine) as session:
        found = list(session.exec(select(Drill).where(Drill.status == "finished")))
    engine.dispose()
    return found


async def onboard(person: Person, name: str) -> None:
    await person.say("/start")
    await person.press(name)
    await person.press("培训学员")
    await person.press("上海")
    await person.press("跳过", replies=2)


async def test_a_drill_in_chinese_then_progress_with_a_chart(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    trainee = Person(fake, FakeUser(1301, "小周", "zh-hans"))
    await onboard(trainee, "小周")
    [listing] = await trainee.say("/practice")
    assert "角色演练" in (listing.plain_text or "") and listing.buttons()
    [ready] = await trainee.press("保险：我正忙，你去下一家吧")
    assert "周老板" in (ready.plain_text or "")
    [rubric] = await trainee.press("看评分标准")
    assert "7 · 回应前先认同" in (rubric.plain_text or "")
    [opening] = await trainee.press("开始")
    assert "我正忙着呢，什么都不需要" in (opening.plain_text or "")
    light = "哈哈，看得出您生意好！不耽误您，我们免费帮客户检查已有保单。<b>真的</b>"
    [second] = await trainee.say(light)
    text = second.plain_text or ""
    assert "轻松幽默" in text and "行吧，给你两分钟" in text
    assert second.parse_mode == "HTML"
    [third] = await trainee.say(TOO_BUSY.turns[1].model_answer.zh)
    assert "第 2 轮 · 14/14" in (third.plain_text or "")
    closing, card, answers = await trainee.say(TOO_BUSY.turns[2].model_answer.zh, replies=3)
    assert "今天六点以后吧" in (closing.plain_text or "")
    assert "评分表：保险：我正忙，你去下一家吧" in (card.plain_text or "")
    assert card.buttons()[0][0].startswith("▶ 练习：")
    assert "<b>真的</b>" in (answers.plain_text or "")  # typed HTML shown as typed
    [drill] = finished_drills(bot)
    assert drill.scenario_id == "insurance-too-busy" and drill.total is not None

    summary, chart = await trainee.say("/progress", replies=2)
    assert "已完成演练：1 次" in (summary.plain_text or "")
    assert chart.kind == "photo" and chart.file_data is not None
    assert chart.file_data.startswith(PNG)
