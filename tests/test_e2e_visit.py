"""End to end: /visit and /brief through the real Application against the fake Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from storage.db import make_engine
from storage.models import Account, Contact, User, Visit, utcnow
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


async def onboard(person: Person) -> None:
    await person.say("/start")
    await person.press(person.user.first_name)
    await person.press("Sales rep")
    await person.press("Shanghai")
    await person.press("Skip", replies=2)


async def toggle(fake: FakeTelegram, person: Person, label: str) -> None:
    """Tick a multi-choice option: the bot edits the question in place, sending nothing new."""
    await person.press(label, replies=0)
    await fake.wait_until(
        lambda: any(
            text == f"✅ {label}"
            for message in fake.messages_to(person.user.id)
            for text, _ in message.buttons()
        )
    )


async def test_a_visit_is_planned_and_its_brief_reopened(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    ana = Person(fake, FakeUser(1201, "Ana", "en"))
    await onboard(ana)
    intro, ask_name = await ana.say("/visit", replies=2)
    assert "prepare your visit" in (intro.plain_text or "")
    assert "What is the account called?" in (ask_name.plain_text or "")
    await ana.say("Huaxin Steel & Co")
    await ana.press("Manufacturing")
    [confirm] = await ana.say("tomorrow 3pm")
    assert "Is that right?" in (confirm.plain_text or "")
    await ana.press("Yes")
    await ana.say("Director Wang")
    await ana.press("Decision maker")
    [follow_up] = await ana.say("Build the relationship")
    assert "agree to do" in (follow_up.plain_text or "")
    await ana.say("Director Wang agrees to a one-month trial")
    await ana.press("Their territory")
    [strategy] = await ana.press("We trail")
    assert "Opening position C · Normal opening" in (strategy.plain_text or "")
    await ana.press("⭐")
    await toggle(fake, ana, "S1")
    await toggle(fake, ana, "N2")
    await ana.press("Done")
    await ana.say("Who signs off on this?")
    await toggle(fake, ana, "Price too high")
    await ana.press("Done")
    await ana.say("Compare the five-year cost")
    await ana.press("Skip")  # proof
    [brief] = await ana.say("Invite them to the Nanjing site")
    text = brief.plain_text or ""
    assert "Visit brief: Huaxin Steel & Co" in text
    assert "Opening C (Normal opening)" in text and "Delay" in text
    assert "3. Who signs off on this?" in text
    assert "Price too high: Compare the five-year cost" in text
    assert brief.parse_mode == "HTML" and len(brief.text or "") < 4096

    with Session(make_engine(bot.settings.database_url)) as session:
        visit = session.exec(select(Visit)).one()
        account = session.exec(select(Account)).one()
        assert (visit.status, visit.opening, visit.strategy) == ("planned", "C", "delay")
        assert visit.objections == [{"type": "price", "answer": "Compare the five-year cost"}]
        assert account.opening == "C"

    [again] = await ana.say("/brief")
    assert "Visit brief: Huaxin Steel & Co" in (again.plain_text or "")
    assert "Saved as planned" not in (again.plain_text or "")


async def test_the_brief_warns_about_the_decision_chain(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    bo = Person(fake, FakeUser(1202, "Bo", "en"))
    await onboard(bo)
    with Session(make_engine(bot.settings.database_url)) as session:
        owner = session.exec(select(User).where(User.platform_user_id == "1202")).one()
        account = Account(owner_id=owner.id or 0, name="City Hospital", industry="healthcare")
        session.add(account)
        session.flush()
        session.add(
            Contact(
                account_id=account.id or 0, name="Buyer <Zhang>", role="buyer", stance="opponent"
            )
        )
        session.add(
            Visit(
                owner_id=owner.id or 0,
                account_id=account.id or 0,
                planned_at=utcnow() + timedelta(days=1),
                contact_name="Dr Sun",
                contact_role="user",
                objective="Dr Sun agrees to a two-week trial on ward 3",
            )
        )
        session.commit()

    [brief] = await bo.say("/brief")
    text = brief.plain_text or ""
    assert "⚠️ Opponent: Buyer <Zhang> (Buyer (purchasing))" in text  # escaped, shown as typed
    assert "⚠️ No decision maker in the decision chain yet" in text
    assert "⚠️ Stance unknown: Dr Sun (User)" in text
    assert text.index("⚠️") < text.index("🎯 Objective: Dr Sun agrees to a two-week trial")
    for empty in ("❓", "🛡", "📎", "🔗", "—"):
        assert empty not in text, empty
    assert brief.parse_mode == "HTML" and len(brief.text or "") < 4096
