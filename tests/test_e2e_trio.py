"""End to end: a role-play in threes through the real Application and the fake Bot API,
with the bot stopped and started again in the middle of a round."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import TrioRound, User, utcnow
from tests.e2e import Person, RunningBot, settings_for
from tests.fake_telegram import FakeChat, FakeTelegram, FakeUser, SentMessage

ITEMS = 14


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    settings = settings_for(fake, tmp_path / "e2e.db").model_copy(update={"dispatch_interval": 0.2})
    running = RunningBot(fake, settings)
    await running.start()
    yield running
    await running.stop()
    assert fake.errors == [], f"the bot made invalid API calls: {fake.errors}"


def people(bot: RunningBot, fake: FakeTelegram) -> list[Person]:
    """Three onboarded trainees, without quiet hours whatever the time of the test run."""
    engine = make_engine(bot.settings.database_url)
    upgrade(engine)
    persons = []
    with Session(engine) as session:
        for offset, name in enumerate(("Ann", "Ben", "Cai")):
            user = FakeUser(6100 + offset, name, "en")
            fake.add_chat(FakeChat.private(user), user)
            session.add(
                User(
                    platform="telegram",
                    platform_user_id=str(user.id),
                    display_name=name,
                    role="trainee",
                    timezone="UTC",
                    quiet_start="00:00",
                    quiet_end="00:00",
                    onboarded_at=utcnow(),
                )
            )
            persons.append(Person(fake, user))
        session.commit()
    engine.dispose()
    return persons


def finished_rounds(bot: RunningBot) -> list[TrioRound]:
    engine = make_engine(bot.settings.database_url)
    with Session(engine) as session:
        statement = select(TrioRound).where(col(TrioRound.finished_at).is_not(None))
        found = list(session.exec(statement.order_by(col(TrioRound.number))))
    engine.dispose()
    return found


async def score(
    fake: FakeTelegram, person: Person, form: SentMessage, number: int, items: range, value: int
) -> None:
    """The observer presses `value` on each of `items`; each press redraws the form in place."""
    session_id = int(re.search(r"@t(\d+):", form.button("Finish round")).group(1))  # type: ignore[union-attr]
    for index in items:
        data = f"@t{session_id}:r{number}i{index}s{value}"
        if data not in [pressed for _, pressed in form.buttons()]:  # on the form's other page
            await redraw(fake, person, form, form.button("▸"))
        await redraw(fake, person, form, data)


async def redraw(fake: FakeTelegram, person: Person, form: SentMessage, data: str) -> None:
    """Press a button of the form and wait until the bot has redrawn it in place."""
    edits = len(form.edits)
    fake.press(person.user, form, data)
    await fake.wait_until(lambda: len(form.edits) > edits)


def text(message: SentMessage) -> str:
    return message.plain_text or ""


async def test_three_people_play_three_rounds_across_a_restart(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    ann, ben, cai = people(bot, fake)
    [cards] = await ann.say("/trio")
    assert "Pick the scenario" in text(cards)
    [invite] = await ann.press("Phone call to book a first visit")
    code = re.search(r"/trio ([A-Z0-9]{6})", text(invite)).group(1)  # type: ignore[union-attr]
    assert f"https://t.me/{fake.bot_username}?start=trio-{code}" in text(invite)

    [waiting] = await ben.say(f"/trio {code}")
    assert "(2/3)" in text(waiting)
    [joined] = await ann.read(1)
    assert "Ben joined" in text(joined)
    started, form = await cai.say(f"/start trio-{code}", replies=2)  # the link's way in
    assert "round 1 starts now" in text(started) and "you are the observer" in text(form)
    [rep_card] = await ann.read(1)
    [customer_card] = await ben.read(1)
    assert "you are the rep" in text(rep_card) and "you are the customer" in text(customer_card)

    # Round 1: Cai observes Ann.
    await score(fake, cai, form, 1, range(ITEMS), 7)
    assert "Scored 14/14 · 98/98" in text(form)
    saved, cai_card = await cai.press("Finish round", replies=2)
    assert "Round 1 saved: 98/98 for Ann" in text(saved) and "you are the customer" in text(
        cai_card
    )
    result, ann_form = await ann.read(2)
    assert "Total: 98/98" in text(result) and "you are the observer" in text(ann_form)
    [ben_card] = await ben.read(1)
    assert "you are the rep" in text(ben_card)

    # Round 2: Ann observes Ben; the bot stops and starts again half-way through her form.
    await score(fake, ann, ann_form, 2, range(7), 5)
    await bot.stop()
    bot.application = None  # type: ignore[assignment]
    await bot.start()
    await score(fake, ann, ann_form, 2, range(7, ITEMS), 3)
    assert "Scored 14/14 · 56/98" in text(ann_form)
    saved, ann_card = await ann.press("Finish round", replies=2)
    assert "Round 2 saved: 56/98 for Ben" in text(saved) and "you are the customer" in text(
        ann_card
    )
    result, ben_form = await ben.read(2)
    assert "Total: 56/98" in text(result) and "you are the observer" in text(ben_form)
    [cai_rep] = await cai.read(1)
    assert "you are the rep" in text(cai_rep)

    # Round 3: Ben observes Cai; then everyone hears it is over.
    await score(fake, ben, ben_form, 3, range(ITEMS), 5)
    saved, done = await ben.press("Finish round", replies=2)
    assert "Round 3 saved: 70/98 for Cai" in text(saved) and "all three rounds" in text(done)
    result, done = await cai.read(2)
    assert "Total: 70/98" in text(result) and "70/98" in text(done)
    [done] = await ann.read(1)
    assert "Your total as the rep: 98/98" in text(done)

    played = finished_rounds(bot)
    assert [r.total for r in played] == [98, 56, 70]
    _summary, trio = await ann.say("/progress", replies=2)  # no drills yet, so no chart
    assert "Role-play in threes" in text(trio) and "Confidence: 7" in text(trio)
