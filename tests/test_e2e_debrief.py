"""End to end: /debrief and /today through the real Application against the fake Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from storage.db import make_engine
from storage.models import Account, AccountChange, Contact, Debrief, FollowUp, User, Visit, utcnow
from tests.e2e import Person, RunningBot, settings_for
from tests.fake_telegram import FakeTelegram, FakeUser

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    # A scripted rep answers thirty questions in seconds; flood control would rightly stop a
    # person doing that, so it is off here (tests/test_flood.py covers it).
    settings = settings_for(fake, tmp_path / "e2e.db").model_copy(update={"flood_limit": 0})
    running = RunningBot(fake, settings)
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


def earlier_today() -> datetime:
    """Two hours ago, or Shanghai's midnight if that was yesterday there: past, and today."""
    midnight = datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(utcnow() - timedelta(hours=2), midnight.astimezone(UTC))


def plan_visit(bot: RunningBot, telegram_id: int) -> int:
    """A visit that took place earlier today, as /visit would have stored it."""
    with Session(make_engine(bot.settings.database_url)) as session:
        owner = session.exec(select(User).where(User.platform_user_id == str(telegram_id))).one()
        account = Account(owner_id=owner.id or 0, name="Huaxin Steel & Co", stage="potential")
        session.add(account)
        session.flush()
        session.add(
            Contact(account_id=account.id or 0, name="Director Wang", role="decision_maker")
        )
        visit = Visit(
            owner_id=owner.id or 0,
            account_id=account.id or 0,
            planned_at=earlier_today(),
            objective="Director Wang agrees to a one-month trial",
        )
        session.add(visit)
        session.commit()
        return visit.id or 0


async def test_a_visit_is_debriefed_over_telegram(bot: RunningBot, fake: FakeTelegram) -> None:
    ana = Person(fake, FakeUser(1301, "Ana", "en"))
    await onboard(ana)
    visit_id = plan_visit(bot, 1301)

    intro, pick = await ana.say("/debrief", replies=2)
    assert "look back at your visit" in (intro.plain_text or "")
    assert "Which visit are we reviewing?" in (pick.plain_text or "")
    [feelings] = await ana.press("Huaxin Steel & Co")
    assert "How do you feel the visit went?" in (feelings.plain_text or "")
    [objective] = await ana.say("Nervous, then fine <honestly> & relieved")
    assert "Director Wang agrees to a one-month trial" in (objective.plain_text or "")
    await ana.press("Keep it")
    await ana.say("Open with their downtime figures, then ask for the trial")
    await ana.say("He liked the figures but would not commit before the budget meeting")
    [outcome] = await ana.say("Budget is decided in January")
    assert "Continuation: The conversation went on pleasantly" in (outcome.plain_text or "")
    [plainly] = await ana.press("Continuation")
    assert "the customer committed to nothing" in (plainly.plain_text or "")
    await ana.say("A meeting with Finance about the budget timing")
    await ana.say("The downtime figures")
    await ana.say("Ask for the commitment before leaving")
    for score in ("7", "5", "3", "5"):
        await ana.press(f"{score} ·")
    await ana.press("Skip")  # attitude not rated
    await ana.press("Target customer")
    await ana.press("Neutral ground")
    await ana.press("We lead")
    await ana.press("Director Wang")
    [next_step] = await ana.press("Supporter")
    assert "committed to nothing, so a concrete next step" in (next_step.plain_text or "")
    await ana.say("Call Finance about the budget meeting")
    [confirm] = await ana.say("tomorrow 3pm")
    assert "Is that right?" in (confirm.plain_text or "")
    [card] = await ana.press("Yes")
    text = card.plain_text or ""
    assert "Coaching card · Huaxin Steel & Co" in text
    assert "Your strength: Confidence (7)" in text
    assert "One thing to work on: Structure (3)" in text
    # The debrief says the budget is decided in January: the drill follows it (not the weakest
    # item, structure, whose drill is the introductory visit).
    assert "Practise before your next visit: Objection: no budget" in text
    assert "Opening position: — → H" in text and "Director Wang: Neutral → Supporter" in text
    assert card.parse_mode == "HTML" and len(card.text or "") < 4096

    with Session(make_engine(bot.settings.database_url)) as session:
        debrief = session.exec(select(Debrief)).one()
        assert (debrief.visit_id, debrief.outcome) == (visit_id, "continuation")
        assert debrief.judged_outcome == "continuation"
        assert debrief.feelings == "Nervous, then fine <honestly> & relieved"
        assert debrief.ratings == {"confidence": 7, "substance": 5, "structure": 3, "clarity": 5}
        follow_up = session.exec(select(FollowUp)).one()
        assert follow_up.debrief_id == debrief.id and follow_up.due_at == debrief.next_step_at
        visit = session.get(Visit, visit_id)
        assert visit is not None and visit.status == "done"
        fields = {change.field_name for change in session.exec(select(AccountChange))}
        assert {"stage", "opening"} <= fields and any(f.startswith("stance:") for f in fields)

    [today] = await ana.say("/today")
    assert "Huaxin Steel & Co" in (today.plain_text or "")
    assert "✅ debriefed" in (today.plain_text or "")


async def test_an_advance_without_a_commitment_is_said_plainly_to_be_a_continuation(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    ben = Person(fake, FakeUser(1302, "Ben", "en"))
    await onboard(ben)
    visit_id = plan_visit(bot, 1302)

    await ben.say(f"/debrief visit_{visit_id}", replies=2)
    await ben.say("Good, he was friendly")
    await ben.press("Keep it")
    await ben.say("Show the downtime figures, then ask for his numbers")
    await ben.say("He said he'd think about sharing numbers")
    await ben.say("He wants to ask his team first")
    [commitment] = await ben.press("Advance")
    text = commitment.plain_text or ""
    assert "An advance means the customer agreed to a concrete action" in text
    assert "who agreed to do what, and by when?" in text
    [plainly] = await ben.say("He'll think about it & get back to me")
    text = plainly.plain_text or ""
    assert "you called it an advance, but “He'll think about it & get back to me” is no" in text
    assert "so that was a continuation" in text and "the customer committed to nothing" in text
    await ben.say("Director Wang sends the downtime log by Friday")
    await ben.say("The figures")
    await ben.say("Ask before leaving")
    for _ in range(5):
        await ben.press("7 ·")
    await ben.press("Skip")  # stage
    await ben.press("Skip")  # opening
    [next_step] = await ben.press("Skip")  # nobody's stance changed
    assert "committed to nothing, so a concrete next step" in (next_step.plain_text or "")
    [card] = await ben.press("Skip")
    text = card.plain_text or ""
    assert "Outcome: Continuation (you said Advance: an advance needs the customer" in text
    assert "Self-rating: 35/35." in text
    assert "Next time, ask for the advance: Director Wang sends the downtime log" in text

    with Session(make_engine(bot.settings.database_url)) as session:
        debrief = session.exec(select(Debrief)).one()
        assert (debrief.outcome, debrief.judged_outcome) == ("advance", "continuation")
