"""The two-lane sending budget (bot/sending.py): order, 429s and per-chat pacing.

Small rates and order assertions only: nothing here asserts how fast a machine is.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.sending import BROADCAST, LaneRateLimiter, broadcast_lane
from bot.settings import Settings

# Constructing RetryAfter reads its own deprecated `retry_after` (PTB 22): not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


class Recorder:
    """A fake Bot API call: notes which send finished, and when (loop time)."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.times: dict[str, float] = {}

    def callback(self, name: str) -> Callable[[], Awaitable[bool]]:
        async def call() -> bool:
            self.done.append(name)
            self.times[name] = asyncio.get_running_loop().time()
            return True

        return call


async def send(
    limiter: LaneRateLimiter,
    callback: Callable[[], Awaitable[Any]],
    chat_id: int | None,
    rate_limit_args: dict[str, Any] | None = None,
) -> Any:
    data = {} if chat_id is None else {"chat_id": chat_id, "text": "hi"}
    return await limiter.process_request(
        callback,  # type: ignore[arg-type]
        (),
        {},
        "sendMessage",
        data,
        rate_limit_args,
    )


async def queue_broadcasts(
    limiter: LaneRateLimiter, recorder: Recorder, count: int, *, by_context: bool
) -> list[asyncio.Task[Any]]:
    async def one(index: int) -> Any:
        callback = recorder.callback(f"b{index}")
        if by_context:  # as the reminder dispatcher and the digest sender mark them
            with broadcast_lane():
                return await send(limiter, callback, 1000 + index)
        return await send(limiter, callback, 1000 + index, {"lane": BROADCAST})

    tasks = [asyncio.create_task(one(index)) for index in range(count)]
    await asyncio.sleep(0)  # every broadcast is now waiting for a slot
    return tasks


@pytest.mark.parametrize("by_context", [True, False], ids=["broadcast_lane", "rate_limit_args"])
async def test_a_reply_overtakes_queued_broadcasts(by_context: bool) -> None:
    limiter = LaneRateLimiter(rate=5)
    recorder = Recorder()
    broadcasts = await queue_broadcasts(limiter, recorder, 20, by_context=by_context)
    assert await send(limiter, recorder.callback("reply"), 42) is True
    # The reply went out after at most a few broadcasts, not after all 20 (4 s at 5/s).
    assert recorder.done.index("reply") <= 5
    assert sum(1 for name in recorder.done if name.startswith("b")) <= 5
    await limiter.shutdown()  # the rest are cancelled
    await asyncio.gather(*broadcasts, return_exceptions=True)
    assert all(task.cancelled() or task.result() is True for task in broadcasts)


async def test_broadcasts_use_the_whole_budget_in_order_when_nobody_is_waiting() -> None:
    limiter = LaneRateLimiter(rate=200)
    recorder = Recorder()
    broadcasts = await queue_broadcasts(limiter, recorder, 20, by_context=True)
    assert await asyncio.gather(*broadcasts) == [True] * 20
    assert recorder.done == [f"b{index}" for index in range(20)]
    # The pump stops once nobody waits: no task is left behind.
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_replies_keep_their_order_and_the_default_lane_is_interactive() -> None:
    limiter = LaneRateLimiter(rate=20)
    recorder = Recorder()
    broadcasts = await queue_broadcasts(limiter, recorder, 5, by_context=True)
    replies = [
        asyncio.create_task(send(limiter, recorder.callback(f"r{i}"), 7 + i)) for i in range(3)
    ]
    await asyncio.gather(*replies, *broadcasts)
    assert [name for name in recorder.done if name.startswith("r")] == ["r0", "r1", "r2"]
    assert recorder.done.index("r2") < recorder.done.index("b2")


async def test_calls_without_a_chat_are_not_queued() -> None:
    limiter = LaneRateLimiter(rate=2)
    recorder = Recorder()
    broadcasts = await queue_broadcasts(limiter, recorder, 5, by_context=False)
    # answerCallbackQuery, getMe…: not messages to a chat, so no slot is needed.
    assert await send(limiter, recorder.callback("answer"), None) is True
    assert recorder.done.index("answer") <= 1
    await limiter.shutdown()
    await asyncio.gather(*broadcasts, return_exceptions=True)


async def test_a_429_is_waited_out_and_retried() -> None:
    limiter = LaneRateLimiter(rate=100)
    calls: list[float] = []

    async def flaky() -> bool:
        calls.append(asyncio.get_running_loop().time())
        if len(calls) == 1:
            raise RetryAfter(1)
        return True

    assert await send(limiter, flaky, 42) is True
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 1.0  # retry_after, at least


async def test_a_429_pauses_every_other_send_too() -> None:
    limiter = LaneRateLimiter(rate=100)
    recorder = Recorder()
    hit: list[float] = []

    async def limited() -> bool:
        if not hit:
            hit.append(asyncio.get_running_loop().time())
            raise RetryAfter(1)
        return True

    first = asyncio.create_task(send(limiter, limited, 1))
    while not hit:
        await asyncio.sleep(0.01)
    assert await send(limiter, recorder.callback("other"), 2) is True
    assert await first is True
    assert recorder.times["other"] - hit[0] >= 1.0


async def test_a_429_is_raised_after_the_retries() -> None:
    limiter = LaneRateLimiter(rate=100, max_retries=2)
    calls = 0

    async def always_limited() -> bool:
        nonlocal calls
        calls += 1
        raise RetryAfter(0)

    with pytest.raises(RetryAfter):
        await send(limiter, always_limited, 42)
    assert calls == 3
    # A call may ask for fewer retries (PTB's rate_limit_args).
    calls = 0
    with pytest.raises(RetryAfter):
        await send(limiter, always_limited, 42, {"max_retries": 0})
    assert calls == 1


async def test_broadcasts_to_a_chat_are_paced_without_holding_up_the_others() -> None:
    limiter = LaneRateLimiter(rate=1000, per_chat_interval=0.2, per_chat_burst=1)
    recorder = Recorder()
    lane = {"lane": BROADCAST}
    same_chat = [
        asyncio.create_task(send(limiter, recorder.callback(f"a{i}"), 1, lane)) for i in range(4)
    ]
    await asyncio.sleep(0)
    other = asyncio.create_task(send(limiter, recorder.callback("other"), 2, lane))
    await asyncio.gather(*same_chat, other)
    assert recorder.done[:2] == ["a0", "other"]  # the other chat did not wait for chat 1
    assert [name for name in recorder.done if name.startswith("a")] == ["a0", "a1", "a2", "a3"]
    times = [recorder.times[f"a{i}"] for i in range(4)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= 0.2 * 0.95  # one message per interval in a chat, never faster


async def test_a_broadcast_burst_to_one_chat_is_small() -> None:
    limiter = LaneRateLimiter(rate=1000, per_chat_interval=10, per_chat_burst=3)
    recorder = Recorder()
    lane = {"lane": BROADCAST}
    # A digest's text and chart pass at once (a 10 s interval would show); a fourth waits.
    for index in range(3):
        await asyncio.wait_for(send(limiter, recorder.callback(f"p{index}"), 1, lane), timeout=5)
    fourth = asyncio.create_task(send(limiter, recorder.callback("p3"), 1, lane))
    await asyncio.sleep(0.2)
    assert not fourth.done()
    # A reply to that chat is not held up by the chat's broadcasts, nor paced itself.
    for index in range(5):
        await asyncio.wait_for(send(limiter, recorder.callback(f"r{index}"), 1), timeout=5)
    assert not fourth.done()
    fourth.cancel()
    await asyncio.gather(fourth, return_exceptions=True)


async def test_group_chats_are_paced_in_both_lanes() -> None:
    limiter = LaneRateLimiter(rate=1000, group_max_rate=2, group_time_period=60)
    recorder = Recorder()
    for index in range(2):
        await asyncio.wait_for(send(limiter, recorder.callback(f"g{index}"), -100), timeout=5)
    third = asyncio.create_task(send(limiter, recorder.callback("g2"), -100))
    await asyncio.sleep(0.2)
    assert not third.done()  # Telegram's 20 a minute in a group, for replies too
    third.cancel()
    await asyncio.gather(third, return_exceptions=True)


def test_the_rate_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESCOACH_SEND_RATE", "100")
    assert Settings(_env_file=None).send_rate == 100
    monkeypatch.delenv("SALESCOACH_SEND_RATE")
    assert Settings(_env_file=None).send_rate == 30
