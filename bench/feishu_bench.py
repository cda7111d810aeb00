"""Feishu callback mode: how fast events are acknowledged, and how fast they are answered.

Feishu wants an event post answered within 3 seconds, else it delivers the
event again. The bot (`salescoach run --platform feishu --webhook`, on a thread
of this process, SQLite in a temporary folder) acknowledges each post once the
event is taken in and runs the turn afterwards. --users people each send
--rounds messages (a /start, then /help), all at once from a pool of threads,
encrypted and signed by the fake platform (tests/fake_feishu.py). Prints the
acknowledgement time of every post (POST to 200) and the reply time (POST to
the bot's answer reaching the fake); asserts nothing.

    .venv/bin/python -m bench.feishu_bench [--users 50] [--rounds 2] [--threads 16]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.fake_feishu import FakeFeishu, FeishuUser, RunningFeishu


def _figures(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return (
        f"{name}: n={len(ordered)}  median {statistics.median(ordered) * 1000:.0f} ms  "
        f"p95 {p95 * 1000:.0f} ms  max {ordered[-1] * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, FakeFeishu() as fake:
        database = f"sqlite:///{Path(folder) / 'bench.db'}"
        bot = RunningFeishu(fake, database, str(Path(folder) / "models"), "callback")
        bot.start()
        acks: list[float] = []
        replies: list[float] = []
        try:
            people = [
                FeishuUser(f"ou_bench{index}", f"Rep {index}", "en_US")
                for index in range(arguments.users)
            ]

            def one(user: FeishuUser, text: str, expected: int) -> None:
                started = time.perf_counter()
                response = fake.post_event(fake.text_event(user, text))
                acks.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
                fake.wait_for_messages(user.open_id, expected, timeout=120)
                replies.append(time.perf_counter() - started)

            with ThreadPoolExecutor(arguments.threads) as pool:
                for round_number in range(arguments.rounds):
                    text = "/start" if round_number == 0 else "/help"
                    started = time.perf_counter()
                    texts, counts = [text] * len(people), [round_number + 1] * len(people)
                    list(pool.map(one, people, texts, counts))
                    took = time.perf_counter() - started
                    print(f"round {round_number + 1} ({text}): {len(people)} people, {took:.1f} s")
        finally:
            bot.stop()
        print(_figures("acknowledged", acks))
        print(_figures("answered    ", replies))
        print(f"over 3 s (Feishu would deliver again): {sum(ack > 3 for ack in acks)}")


if __name__ == "__main__":
    main()
