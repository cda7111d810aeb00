"""Replies during a broadcast burst: the two-lane limiter against PTB's AIORateLimiter.

In-process, against the limiter itself: 1,000 broadcasts (one per chat, 64 in
flight as the reminder dispatcher has them) go out at the budget while reps
type, one input every 1/--replies seconds, each answered with two messages.
Every Bot API call is a fake one taking 50-150 ms, on a pool of 16
connections as bot/http_client.py keeps. Prints the reply latency (input to
last message sent) and the broadcast throughput; asserts nothing.

    .venv/bin/python -m bench.lanes_bench [--count 1000] [--rate 30] [--replies 2] [--no-baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
from collections.abc import Callable
from typing import Any

from telegram.ext import AIORateLimiter, BaseRateLimiter

from bot.sending import LaneRateLimiter, broadcast_lane

REPLY_PARTS = 2  # e.g. /today's list, then its buttons
REPS = 50


class FakeBotApi:
    """A Bot API call of realistic latency over a bounded connection pool."""

    def __init__(self, seed: int, connections: int = 16) -> None:
        self.random = random.Random(seed)
        self.pool = asyncio.Semaphore(connections)

    async def call(self) -> bool:
        async with self.pool:
            await asyncio.sleep(self.random.uniform(0.05, 0.15))
        return True


async def send(limiter: BaseRateLimiter[Any], api: FakeBotApi, chat_id: int) -> None:
    await limiter.process_request(api.call, (), {}, "sendMessage", {"chat_id": chat_id}, None)


async def run(
    limiter: BaseRateLimiter[Any], count: int, replies_per_second: float
) -> dict[str, Any]:
    api = FakeBotApi(seed=1)
    loop = asyncio.get_running_loop()
    done_at: list[float] = []
    in_flight = asyncio.Semaphore(64)  # the dispatcher's DispatchConfig.concurrency

    async def broadcast(chat_id: int) -> None:
        async with in_flight:
            with broadcast_lane():
                await send(limiter, api, chat_id)
        done_at.append(loop.time())

    async def reply(chat_id: int, latencies: list[float]) -> None:
        typed = loop.time()
        for _ in range(REPLY_PARTS):
            await send(limiter, api, chat_id)
        latencies.append(loop.time() - typed)

    start = loop.time()
    burst = asyncio.gather(*(broadcast(100_000 + index) for index in range(count)))
    latencies: list[float] = []
    replies: list[asyncio.Task[None]] = []
    chooser = random.Random(2)
    while not burst.done():
        chat = chooser.randrange(1, REPS + 1)
        replies.append(asyncio.create_task(reply(chat, latencies)))
        await asyncio.sleep(1 / replies_per_second)
    await burst
    await asyncio.gather(*replies)
    await limiter.shutdown()
    elapsed = max(done_at) - start
    return {
        "latencies": latencies,
        "throughput": count / elapsed,
        # Every message sent while the burst lasted, replies included: the budget's use.
        "total": (count + REPLY_PARTS * len(latencies)) / elapsed,
        "replies": len(latencies),
    }


def report(name: str, result: dict[str, Any]) -> None:
    latencies = sorted(result["latencies"])
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(
        f"{name:<22} replies {result['replies']:>4}  reply p50 {p50:6.2f} s  p99 {p99:6.2f} s"
        f"  max {latencies[-1]:6.2f} s  broadcast {result['throughput']:5.1f} msg/s"
        f"  all {result['total']:5.1f} msg/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="broadcasts in the burst")
    parser.add_argument("--rate", type=float, default=30.0, help="the budget, messages/s")
    parser.add_argument("--replies", type=float, default=2.0, help="reps' inputs per second")
    parser.add_argument("--no-baseline", action="store_true", help="skip AIORateLimiter")
    args = parser.parse_args()
    print(
        f"{args.count} broadcasts at a {args.rate:g}/s budget, {args.replies:g} inputs/s "
        f"answered with {REPLY_PARTS} messages each, fake calls of 50-150 ms"
    )
    limiters: list[tuple[str, Callable[[], BaseRateLimiter[Any]]]] = [
        ("two lanes (sending.py)", lambda: LaneRateLimiter(rate=args.rate))
    ]
    if not args.no_baseline:
        limiters.append(
            (
                "AIORateLimiter",
                lambda: AIORateLimiter(overall_max_rate=1, overall_time_period=1 / args.rate),
            )
        )
    for name, make in limiters:
        report(name, asyncio.run(run(make(), args.count, args.replies)))


if __name__ == "__main__":
    main()
