"""Digests end to end: /digest with its chart over Telegram, the cron jobs, and exactly once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.digests import DigestConfig, DigestScheduler, DigestSender, last_slot
from bot.reminders import DeliveryRetry
from dialogs.catalog import ACTIONS, COMMANDS, DIALOGS
from dialogs.core.engine import Engine
from dialogs.core.io import Outgoing
from dialogs.core.steps import Services
from dialogs.core.timezones import zone_for
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import DigestRun, User, utcnow
from tests.e2e import BotProcess, Person, RunningBot, settings_for
from tests.fake_telegram import FakeChat, FakeTelegram, FakeUser
from tests.test_digest import PNG, Seed

FIRST_MANAGER = 7000


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


@dataclass(frozen=True)
class Managed:
    """A seeded manager: ids in the database and on Telegram."""

    user_id: int
    telegram_id: int
    team_id: int


def seed_managers(
    database_url: str,
    fake: FakeTelegram,
    count: int,
    *,
    slot_ago: timedelta | None = None,
    enabled: bool = True,
    zone: str = "UTC",
) -> list[Managed]:
    """Managers with a team of three active reps; their digest slot `slot_ago` in the past."""
    engine = make_engine(database_url)
    upgrade(engine)
    seed = Seed(engine)
    now = utcnow()
    slot = (now - slot_ago) if slot_ago is not None else now
    managers = []
    for index in range(count):
        telegram_id = FIRST_MANAGER + index
        person = FakeUser(telegram_id, f"Boss {index}", "en")
        fake.add_chat(FakeChat.private(person), person)
        with seed.session() as session:
            manager = User(
                platform="telegram",
                platform_user_id=str(telegram_id),
                display_name=f"Boss {index}",
                role="manager",
                timezone=zone,
                onboarded_at=now,
                digest_enabled=enabled,
                digest_weekday=slot.isoweekday(),
                digest_time=slot.strftime("%H:%M"),
                quiet_start="00:00",
                quiet_end="00:00",
            )
            session.add(manager)
            session.flush()
            session.refresh(manager)
            session.expunge(manager)
        reps = [seed.user(f"Rep {index}-{number}", zone=zone) for number in range(3)]
        team = seed.team(manager, f"Team {index}", reps)
        for rep in reps:
            account = seed.account(rep, f"Account of {rep.display_name}", opening="D")
            for moment in (now - timedelta(minutes=1), now - timedelta(days=7)):
                seed.visit_with_debrief(rep, account, moment - timedelta(hours=2), "advance")
        managers.append(Managed(manager.id or 0, telegram_id, team.id or 0))
    engine.dispose()
    return managers


def digests_received(fake: FakeTelegram, managers: list[Managed]) -> Counter[int]:
    """How many digests each manager's chat got (a digest opens with its header or quiet line)."""
    counts: Counter[int] = Counter()
    for manager in managers:
        for message in fake.messages_to(manager.telegram_id):
            text = message.plain_text or ""
            if text.startswith("📊 Weekly digest") or "a quiet week" in text:
                counts[manager.telegram_id] += 1
    return counts


def run_statuses(database_url: str) -> Counter[str]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        statuses = Counter(run.status for run in session.exec(select(DigestRun)))
    engine.dispose()
    return statuses


def wait_for(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


# ----- /digest over the real Application ------------------------------------------------


async def test_digest_command_sends_text_buttons_and_a_png(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    [manager] = seed_managers(bot.settings.database_url, fake, 1, enabled=False)
    boss = Person(fake, FakeUser(manager.telegram_id, "Boss 0", "en"))
    [digest] = await boss.say("/digest")
    text = digest.plain_text or ""
    assert text.startswith("📊 Weekly digest · Team 0")
    assert "Rep 0-0" in text and "Problem opening" in text
    assert [label for label, _ in digest.buttons()] == ["📝 Rep 0-0", "📝 Rep 0-1", "📝 Rep 0-2"]
    chart = await fake.next_message(manager.telegram_id)
    assert chart.kind == "photo" and chart.file_data is not None
    assert chart.file_data.startswith(PNG)
    [debriefs] = await boss.press("Rep 0-1")
    assert "Rep 0-1's recent debriefs" in (debriefs.plain_text or "")
    assert fake.errors == []


# ----- the cron jobs -------------------------------------------------------------------


async def test_one_cron_job_per_manager_follows_the_settings(
    bot: RunningBot, fake: FakeTelegram
) -> None:
    managers = seed_managers(
        bot.settings.database_url, fake, 2, slot_ago=timedelta(days=3), zone="Asia/Shanghai"
    )
    digests: DigestScheduler = bot.application.bot_data["digests"]
    await digests.tick()
    scheduler = bot.application.job_queue.scheduler  # type: ignore[union-attr]
    first = scheduler.get_job(f"digest:{managers[0].user_id}")
    assert first is not None
    assert str(first.trigger.timezone) == "Asia/Shanghai"
    assert scheduler.get_job(f"digest:{managers[1].user_id}") is not None
    engine = make_engine(bot.settings.database_url)
    with Session(engine) as session:
        user = session.get(User, managers[0].user_id)
        assert user is not None
        user.digest_weekday, user.digest_time = 5, "17:45"
        other = session.get(User, managers[1].user_id)
        assert other is not None
        other.digest_enabled = False
        session.commit()
    engine.dispose()
    await digests.tick()
    moved = scheduler.get_job(f"digest:{managers[0].user_id}")
    fields = {field.name: str(field) for field in moved.trigger.fields}
    assert (fields["day_of_week"], fields["hour"], fields["minute"]) == ("fri", "17", "45")
    assert moved.next_run_time.isoweekday() == 5
    assert (moved.next_run_time.hour, moved.next_run_time.minute) == (17, 45)
    assert scheduler.get_job(f"digest:{managers[1].user_id}") is None
    # What the cron job runs when it fires: the digest arrives, chart and all, once.
    sent = await moved.func(*moved.args)
    again = await moved.func(*moved.args)
    assert (sent, again) == (1, 0)
    assert digests_received(fake, managers[:1]) == Counter({managers[0].telegram_id: 1})
    assert fake.errors == []


# ----- Telegram's limits ------------------------------------------------------------


class TimedFakeTelegram(FakeTelegram):
    """The fake server, noting when each message or photo arrives and for which chat."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, int]] = []

    def _api_sendMessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        self.arrivals.append((time.monotonic(), int(params["chat_id"])))
        return super()._api_sendMessage(params, files)

    def _api_sendPhoto(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        self.arrivals.append((time.monotonic(), int(params["chat_id"])))
        return super()._api_sendPhoto(params, files)


async def test_many_digests_at_once_keep_within_telegrams_limits(tmp_path: Path) -> None:
    with TimedFakeTelegram() as timed:
        database = tmp_path / "burst.db"
        managers = seed_managers(f"sqlite:///{database}", timed, 45, slot_ago=timedelta(minutes=1))
        running = RunningBot(timed, settings_for(timed, database))
        await running.start()
        try:
            await timed.wait_until(lambda: len(timed.arrivals) >= 90, timeout=60)
            await asyncio.sleep(1.0)
        finally:
            await running.stop()
    assert len(timed.arrivals) == 90  # a text and a chart each, once
    start = timed.arrivals[0][0]
    per_second = Counter(int(at - start) for at, _ in timed.arrivals)
    assert max(per_second.values()) <= 31  # about 30 a second overall, never a burst of 90
    by_chat: dict[int, list[float]] = {}
    for at, chat in timed.arrivals:
        by_chat.setdefault(chat, []).append(at)
    gaps = [b - a for times in by_chat.values() for a, b in pairwise(times)]
    assert min(gaps) >= 0.9  # about one message a second per chat
    assert len(by_chat) == len(managers) and timed.errors == []


# ----- exactly once --------------------------------------------------------------------


class Collect:
    """A delivery function that records what it was given, failing on demand."""

    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.sent: list[tuple[int, Outgoing]] = []
        self.failures = list(failures or [])

    async def __call__(self, user: User, outgoing: Outgoing) -> None:
        if self.failures:
            raise self.failures.pop(0)
        await asyncio.sleep(0.01)  # let a racing sender run in between
        self.sent.append((user.id or 0, outgoing))

    def digests(self) -> int:
        return sum(1 for _, outgoing in self.sent if outgoing.text)


class FakeScheduler:
    """Stands in for APScheduler where only the database matters."""

    def add_job(self, *args: Any, **kwargs: Any) -> None:
        pass

    def remove_job(self, job_id: str) -> None:
        pass


def engine_on(database_url: str) -> Engine:
    return Engine(
        make_engine(database_url),
        dialogs=DIALOGS,
        commands=COMMANDS,
        actions=ACTIONS,
        services=Services(),
    )


async def test_racing_senders_deliver_each_digest_once_and_a_restart_does_not_resend(
    fake: FakeTelegram, any_database: str
) -> None:
    database_url = any_database
    managers = seed_managers(database_url, fake, 3, slot_ago=timedelta(minutes=5))
    first, second = Collect(), Collect()
    senders = [
        DigestSender(engine_on(database_url), delivery, _fast()) for delivery in (first, second)
    ]
    await asyncio.gather(
        *(sender.send_scheduled(m.user_id) for m in managers for sender in senders)
    )
    assert first.digests() + second.digests() == 3
    assert run_statuses(database_url) == Counter({"sent": 3})
    restarted = Collect()
    scheduler = DigestScheduler(
        FakeScheduler(), DigestSender(engine_on(database_url), restarted, _fast()), "telegram"
    )
    await scheduler.tick()
    assert restarted.sent == []


async def test_a_failed_digest_is_retried_only_if_nothing_was_seen(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'retry.db'}"
    unseen, half = seed_managers(database_url, fake, 2, slot_ago=timedelta(minutes=5))
    failing = Collect([DeliveryRetry("rate limited")])
    sender = DigestSender(engine_on(database_url), failing, _fast())
    assert await sender.send_scheduled(unseen.user_id) == 0
    assert run_statuses(database_url) == Counter({"retry": 1})
    half_failing = _FailSecond()
    assert (
        await DigestSender(engine_on(database_url), half_failing, _fast()).send_scheduled(
            half.user_id
        )
        == 0
    )
    assert run_statuses(database_url) == Counter({"retry": 1, "failed": 1})
    later = Collect()
    scheduler = DigestScheduler(
        FakeScheduler(), DigestSender(engine_on(database_url), later, _fast()), "telegram"
    )
    await scheduler.tick()
    assert [user_id for user_id, outgoing in later.sent if outgoing.text] == [unseen.user_id]
    assert run_statuses(database_url) == Counter({"sent": 1, "failed": 1})
    await scheduler.tick()
    assert later.digests() == 1


class _FailSecond(Collect):
    """Delivers the first message, then fails: half a digest was seen."""

    async def __call__(self, user: User, outgoing: Outgoing) -> None:
        if self.sent:
            raise DeliveryRetry("connection dropped")
        await super().__call__(user, outgoing)


def _fast() -> DigestConfig:
    return DigestConfig(per_chat_interval=0.0)


def test_slots_in_the_managers_zone() -> None:
    new_york = zone_for("America/New_York")
    now = datetime(2026, 11, 23, 14, 0, tzinfo=new_york)  # Monday
    assert last_slot(now, new_york, 1, "08:30") == datetime(2026, 11, 23, 8, 30, tzinfo=new_york)
    assert last_slot(now, new_york, 2, "08:30") == datetime(2026, 11, 17, 8, 30, tzinfo=new_york)
    assert last_slot(now, new_york, 1, "bad") is None


def test_two_bot_processes_on_postgres_send_each_digest_once(
    fake: FakeTelegram, postgres_database: str, tmp_path: Path
) -> None:
    managers = seed_managers(postgres_database, fake, 20, slot_ago=timedelta(minutes=2))
    bots = [BotProcess(fake, postgres_database, tmp_path / f"bot{i}.log") for i in range(2)]
    for process in bots:
        process.start()
    try:
        wait_for(lambda: sum(digests_received(fake, managers).values()) >= 20, timeout=90)
        wait_for(lambda: run_statuses(postgres_database) == Counter({"sent": 20}), timeout=30)
        time.sleep(3.0)  # give a duplicate, if any, the chance to show up
    finally:
        for process in bots:
            process.stop()
    counts = digests_received(fake, managers)
    assert len(counts) == 20 and set(counts.values()) == {1}
    photos = Counter(m.chat_id for m in fake.sent if m.kind == "photo")
    assert set(photos.values()) == {1}
    assert fake.errors == []
    # A restart finds every run recorded and sends nothing again.
    before = len(fake.sent)
    restarted = BotProcess(fake, postgres_database, tmp_path / "bot-restart.log")
    restarted.start()
    try:
        log = tmp_path / "bot-restart.log"
        wait_for(lambda: "Application started" in log.read_text(errors="replace"), timeout=60)
        time.sleep(3.0)  # the catch-up runs as the scheduler starts
    finally:
        restarted.stop()
    assert len(fake.sent) == before
    assert run_statuses(postgres_database) == Counter({"sent": 20})
