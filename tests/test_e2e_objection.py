"""End to end: `/objection` through the real Application and the fake Bot API server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from storage.db import make_engine
from storage.models import ObjectionLabel, ObjectionLog
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
    coaching, question = await rep.say(
        "Your price is too high & we <really> can't pay that", replies=2
    )
    text = coaching.plain_text or ""
    assert text.startswith("💬 Say now: ")  # one sentence to say now leads
    assert "① The objection: Price too high" in text
    assert "we <really> can't pay that" in text  # escaped, shown as typed
    assert coaching.parse_mode == "HTML"
    assert [label for label, _ in coaching.buttons()] == ["📖 The full four steps"]
    assert "② Find the real reason" in text
    assert "③ Respond" in text
    assert "④ Check it's resolved" in text
    assert "What did you say" in (question.plain_text or "") and question.buttons()
    kind, probe, respond, confirm, again = await rep.press("The full four steps", replies=5)
    assert "① The objection: Price too high" in (kind.plain_text or "")
    assert "② Find the real reason" in (probe.plain_text or "")
    assert "③ Respond" in (respond.plain_text or "")
    assert "④ Check it's resolved" in (confirm.plain_text or "")
    assert "What did you say" in (again.plain_text or "")
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
    messages = await rep.say("/objection 我们已经有固定的供应商了", replies=2)
    assert "① 异议类型：已有供应商" in (messages[0].plain_text or "")
    [account] = await rep.press("跳过")  # nothing said: "效果怎么样？" is not asked
    assert "这是哪个客户" in (account.plain_text or "")
    [logged] = await rep.press("跳过")
    assert "已记录" in (logged.plain_text or "")
    [entry] = objection_logs(bot)
    assert (entry.objection_type, entry.response, entry.outcome) == ("has_supplier", None, None)


def objection_labels(bot: RunningBot) -> list[ObjectionLabel]:
    with Session(make_engine(bot.settings.database_url)) as session:
        return list(session.exec(select(ObjectionLabel)))


async def test_a_confident_reading_shows_the_words_that_decided(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    rep = Person(fake, FakeUser(1203, "Ola", "en"))
    await onboard(rep, "Ola", "London")
    words = (
        "Price isn't really the issue. The real issue is your uptime SLA, we can't risk downtime"
    )
    kind, _question = await rep.say(f"/objection {words}", replies=2)
    text = kind.plain_text or ""
    assert "① The objection: Price too high" not in text
    assert "What gave it away: “The real issue is your uptime SLA" in text
    assert objection_labels(bot) == []  # nothing picked by the rep, nothing to learn


async def test_a_reps_correction_trains_the_next_model(
    bot: RunningBot, fake: FakeTelegram, tmp_path: Path
) -> None:
    rep = Person(fake, FakeUser(1204, "Pia", "en"))
    await onboard(rep, "Pia", "London")
    words = "xq zv jj wq"  # no word the shipped model knows
    [ask] = await rep.say(f"/objection {words}")
    assert "Which kind of objection is it?" in (ask.plain_text or "")
    kind, _question = await rep.press("Price too high", replies=2)
    assert "① The objection: Price too high" in (kind.plain_text or "")
    [label] = objection_labels(bot)
    assert (label.text, label.label, label.predicted) == (words, "price", None)

    environment = {
        **os.environ,
        "SALESCOACH_DATABASE_URL": bot.settings.database_url,
        "SALESCOACH_MODEL_DIR": str(bot.settings.model_dir),
    }
    trained = subprocess.run(
        [sys.executable, "-m", "bot.cli", "objections", "train"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert trained.returncode == 0, trained.stderr
    assert "(1 from reps)" in trained.stdout
    assert (bot.settings.model_dir / "objections.npz").exists()

    await rep.say("/cancel")
    [first] = await rep.say(f"/objection {words}")
    # The retrained model knows the words now: a confident price, or price first to pick.
    text = first.plain_text or ""
    if text.startswith("I'm not sure"):
        assert first.buttons()[0][0] == "Price too high"
    else:
        assert "① The objection: Price too high" in text
