"""Reminders at scale: start-up with 100,000 pending, peak RSS, and delivery lag for a burst.

Seeds 10,000 users and 100,000 pending reminders, 1,000 of which fall due in
the same minute (one per user), starts the real Application against a fake
Bot API server on loopback, and prints how fast the burst goes out.

    .venv/bin/python -m bench.reminders_bench [--users 10000] [--pending 100000] [--burst 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bot.settings import Settings
from bot.telegram_bot import build_application
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import FollowUp, Reminder, User, utcnow
from tests.fake_telegram import FakeChat, FakeTelegram, FakeUser


class TimedFakeTelegram(FakeTelegram):
    """The fake server, noting when each sendMessage request arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, int, str]] = []

    def _api_sendMessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        self.arrivals.append((time.time(), int(params["chat_id"]), str(params.get("text", ""))))
        return super()._api_sendMessage(params, files)


def seed(database_url: str, users: int, pending: int, burst: int) -> float:
    """Bulk-insert users, follow-ups and reminders; returns the burst's due time (epoch)."""
    engine = make_engine(database_url)
    upgrade(engine)
    now = utcnow()
    burst_due = now + timedelta(seconds=20)
    with engine.begin() as connection:
        connection.execute(
            insert(User),
            [
                {
                    "platform": "telegram",
                    "platform_user_id": str(100_000 + index),
                    "display_name": f"Rep {index}",
                    "role": "rep",
                    "language": "en",
                    "timezone": "UTC",
                    "active": True,
                    "quiet_start": "00:00",
                    "quiet_end": "00:00",
                    "onboarded_at": now,
                    "created_at": now,
                }
                for index in range(users)
            ],
        )
        rows = []
        for index in range(pending):
            in_burst = index < burst
            due = burst_due if in_burst else now + timedelta(days=1, minutes=index % 40_000)
            rows.append((index, 1 + index % users, due, in_burst))
        connection.execute(
            insert(FollowUp),
            [
                {"id": index + 1, "owner_id": user_id, "text": f"bench task {index}", "due_at": due,
                 "status": "open", "created_at": now}
                for index, user_id, due, _ in rows
            ],
        )  # fmt: skip
        connection.execute(
            insert(Reminder),
            [
                {"user_id": user_id, "kind": "follow_up", "dedup_key": f"follow_up:{index + 1}",
                 "due_at": due, "original_due_at": due, "status": "pending", "attempts": 0,
                 "follow_up_id": index + 1, "asked_count": 0, "late": False, "created_at": now}
                for index, user_id, due, _ in rows
            ],
        )  # fmt: skip
    engine.dispose()
    return burst_due.timestamp()


def seed_in_child(database_url: str, users: int, pending: int, burst: int) -> float:
    """Seed in a child process, so the bot's peak memory is not the seeder's."""
    with ProcessPoolExecutor(max_workers=1) as pool:
        return pool.submit(seed, database_url, users, pending, burst).result()


def know_chats(fake: FakeTelegram, users: int, burst: int) -> None:
    """The fake server must know a chat before the bot may write to it."""
    for index in range(min(users, burst)):
        person = FakeUser(100_000 + index, f"Rep {index}", "en")
        fake.add_chat(FakeChat.private(person), person)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(users: int, pending: int, burst: int) -> None:
    with tempfile.TemporaryDirectory() as folder, TimedFakeTelegram() as fake:
        database_url = f"sqlite:///{Path(folder) / 'bench.db'}"
        started = time.perf_counter()
        burst_due = seed_in_child(database_url, users, pending, burst)
        know_chats(fake, users, burst)
        seconds = time.perf_counter() - started
        print(f"seeded {users} users, {pending} pending reminders in {seconds:.1f} s")
        settings = Settings(
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_API_URL=fake.base_url,
            TELEGRAM_FILE_URL=fake.base_file_url,
            SALESCOACH_DATABASE_URL=database_url,
            SALESCOACH_DISPATCH_INTERVAL=1.0,
        )
        started = time.perf_counter()
        application = build_application(settings)
        await application.initialize()
        assert application.post_init is not None
        await application.post_init(application)
        await application.start()
        ready = time.perf_counter() - started
        print(
            f"start to ready: {ready:.2f} s (target < 3 s); peak RSS so far {peak_rss_mb():.0f} MB"
        )
        deadline = time.time() + 120 + burst / 25
        while len(fake.arrivals) < burst and time.time() < deadline:
            await asyncio.sleep(0.5)
        await application.stop()
        await application.shutdown()
        report(fake.arrivals, burst_due, burst)


def report(arrivals: list[tuple[float, int, str]], due: float, burst: int) -> None:
    """Print lag percentiles, throughput and the worst one-second windows."""
    if not arrivals:
        print("nothing delivered")
        return
    lags = sorted(arrival - due for arrival, _, _ in arrivals)
    first, last = arrivals[0][0], arrivals[-1][0]
    per_second = Counter(int(arrival) for arrival, _, _ in arrivals)
    per_chat_second = Counter((chat, int(arrival)) for arrival, chat, _ in arrivals)
    duration = max(last - first, 1e-9)
    print(f"delivered {len(arrivals)} of {burst}")
    p99 = lags[max(0, int(len(lags) * 0.99) - 1)]
    print(f"delivery lag p50 {statistics.median(lags):.2f} s, p99 {p99:.2f} s")
    print(
        f"throughput {len(arrivals) / duration:.1f} messages/s over {duration:.1f} s (target ≥ 28)"
    )
    print(f"busiest second overall: {max(per_second.values())} messages (limit 30)")
    print(f"busiest second for one chat: {max(per_chat_second.values())} messages (limit 1)")
    print(f"peak RSS {peak_rss_mb():.0f} MB (target < 300 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--burst", type=int, default=1_000)
    arguments = parser.parse_args()
    asyncio.run(run(arguments.users, arguments.pending, arguments.burst))


if __name__ == "__main__":
    main()
