"""Flood control: the sliding window with a fake clock, then end to end over the fake Bot API."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.flood import FLOOD_KEY, FloodGate, Verdict
from bot.settings import Settings
from bot.telegram_bot import ENGINE_KEY
from dialogs.core.engine import Engine, Within
from dialogs.core.io import Incoming, Outgoing, Sender
from dialogs.core.texts import Texts
from tests.e2e import RunningBot, settings_for
from tests.fake_telegram import FakeTelegram, FakeUser


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verdicts(gate: FloodGate, user_id: int, count: int) -> list[Verdict]:
    return [gate.check(user_id) for _ in range(count)]


def test_the_twenty_first_update_in_ten_seconds_warns_then_the_rest_are_dropped() -> None:
    gate = FloodGate(limit=20, window=10.0, clock=Clock())
    results = verdicts(gate, 1, 30)
    assert results[:20] == [Verdict.ALLOW] * 20
    assert results[20] is Verdict.WARN
    assert results[21:] == [Verdict.DROP] * 9


def test_after_a_quiet_window_the_user_is_let_through_and_warned_afresh() -> None:
    clock = Clock()
    gate = FloodGate(limit=3, window=10.0, clock=clock)
    assert verdicts(gate, 1, 5) == [Verdict.ALLOW] * 3 + [Verdict.WARN, Verdict.DROP]
    clock.now += 10.0
    assert verdicts(gate, 1, 5) == [Verdict.ALLOW] * 3 + [Verdict.WARN, Verdict.DROP]


def test_hammering_on_keeps_the_user_dropped_with_a_single_warning() -> None:
    clock = Clock()
    gate = FloodGate(limit=3, window=10.0, clock=clock)
    results = []
    for _ in range(100):  # 2 per second for 50 s: above 3 per 10 s all the time
        results.append(gate.check(1))
        clock.now += 0.5
    assert results[:3] == [Verdict.ALLOW] * 3
    assert results.count(Verdict.WARN) == 1
    assert set(results[4:]) == {Verdict.DROP}


def test_a_steady_rate_at_the_limit_is_never_dropped() -> None:
    clock = Clock()
    gate = FloodGate(limit=20, window=10.0, clock=clock)
    results = []
    for _ in range(200):  # exactly 20 per 10 s
        results.append(gate.check(1))
        clock.now += 0.5
    assert set(results) == {Verdict.ALLOW}


def test_slowing_down_lets_updates_through_as_the_window_slides() -> None:
    clock = Clock()
    gate = FloodGate(limit=3, window=10.0, clock=clock)
    assert verdicts(gate, 1, 4) == [Verdict.ALLOW] * 3 + [Verdict.WARN]
    clock.now += 10.5  # the burst has slid out of the window
    assert gate.check(1) is Verdict.ALLOW


def test_users_are_counted_separately() -> None:
    gate = FloodGate(limit=2, window=10.0, clock=Clock())
    assert verdicts(gate, 1, 3) == [Verdict.ALLOW, Verdict.ALLOW, Verdict.WARN]
    assert verdicts(gate, 2, 2) == [Verdict.ALLOW, Verdict.ALLOW]


def test_quiet_users_are_forgotten() -> None:
    clock = Clock()
    gate = FloodGate(limit=5, window=10.0, clock=clock)
    for user_id in range(100):
        gate.check(user_id)
    assert gate.tracked_users() == 100
    clock.now += 11.0
    gate.check(1000)
    assert gate.tracked_users() == 1


def test_the_slow_down_text_exists_in_both_languages() -> None:
    english, chinese = Texts("en")("common.slow_down"), Texts("zh")("common.slow_down")
    assert "pause" in english
    assert "停" in chinese


# -- end to end ----------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def flood_settings(fake: FakeTelegram, tmp_path: Path, limit: int) -> Settings:
    # Explicit, so these tests do not depend on what the shared harness chooses.
    return settings_for(fake, tmp_path / "flood.db").model_copy(
        update={"flood_limit": limit, "flood_window": 10.0}
    )


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    running = RunningBot(fake, flood_settings(fake, tmp_path, limit=20))
    await running.start()
    yield running
    await running.stop()
    assert fake.errors == [], f"the bot made invalid API calls: {fake.errors}"


def count_engine_calls(bot: RunningBot, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many inputs the dialog engine handled, per user id."""
    engine: Engine = bot.application.bot_data[ENGINE_KEY]
    handled: Counter[str] = Counter()
    original = engine.handle

    def counting(sender: Sender, incoming: Incoming, *, within: Within) -> list[Outgoing]:
        handled[sender.user_id] += 1
        return original(sender, incoming, within=within)

    monkeypatch.setattr(engine, "handle", counting)
    return handled


async def test_a_flooding_user_is_told_once_and_others_are_answered(
    bot: RunningBot, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    handled = count_engine_calls(bot, monkeypatch)
    flooder = FakeUser(1001, "Ann", "en")
    calm = FakeUser(1002, "Bo", "en")
    slow_down = Texts("en")("common.slow_down")
    for index in range(30):
        fake.send_text(flooder, "/start" if index == 0 else "/help")
    fake.send_text(calm, "/start")

    greeting = await fake.next_message(calm.id)
    assert "SalesCoach" in (greeting.plain_text or "")
    await fake.wait_until(lambda: not fake.pending_updates, timeout=10)
    await fake.wait_until(lambda: handled[str(flooder.id)] >= 20, timeout=10)
    await fake.wait_until(
        lambda: any(m.plain_text == slow_down for m in fake.messages_to(flooder.id)), timeout=10
    )

    # A button pressed while still flooding is answered, so the client stops spinning,
    # but not handled.
    with_buttons = [m for m in fake.messages_to(flooder.id) if m.buttons()]
    pressed = with_buttons[-1]
    fake.press(flooder, pressed, pressed.buttons()[0][1])
    await fake.wait_until(lambda: len(fake.callback_answers) == 1, timeout=10)

    warnings = [m for m in fake.messages_to(flooder.id) if m.plain_text == slow_down]
    assert len(warnings) == 1
    assert handled[str(flooder.id)] == 20
    assert handled[str(calm.id)] == 1
    assert all(m.plain_text != slow_down for m in fake.messages_to(calm.id))


async def test_the_slow_down_notice_is_in_the_users_language(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    flooder = FakeUser(1003, "王", "zh-hans")
    for _ in range(21):
        fake.send_text(flooder, "/help")
    slow_down = Texts("zh")("common.slow_down")
    await fake.wait_until(
        lambda: any(m.plain_text == slow_down for m in fake.messages_to(flooder.id)), timeout=10
    )


async def test_a_limit_of_zero_turns_flood_control_off(
    fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = RunningBot(fake, flood_settings(fake, tmp_path, limit=0))
    await running.start()
    try:
        assert FLOOD_KEY not in running.application.bot_data
        handled = count_engine_calls(running, monkeypatch)
        eager = FakeUser(1004, "Eve", "en")
        for _ in range(25):
            fake.send_text(eager, "/help")
        await fake.wait_until(lambda: handled[str(eager.id)] == 25, timeout=20)
        slow_down = Texts("en")("common.slow_down")
        assert all(m.plain_text != slow_down for m in fake.messages_to(eager.id))
    finally:
        await running.stop()
