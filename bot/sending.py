"""One sending budget for Telegram, with replies to people ahead of broadcasts.

Telegram allows a bot about 30 messages a second overall (more for bots with
paid broadcasts) and about one a second per chat. With a single first-come
limiter, a Monday burst of 1,000 reminders or digests (33 s at 30/s) queues a
rep's `/today` behind all of them. `LaneRateLimiter` keeps the one budget but
hands out its slots in two lanes:

- **interactive** (the default): replies to a person's input. They take the
  next free slot, ahead of every waiting broadcast.
- **broadcast**: reminders, comments, digests, assignments: whatever the bot
  sends on its own. They get the slots interactive replies leave.

A send is a broadcast when it is made inside `broadcast_lane()` (the
reminder dispatcher and the digest sender wrap their deliveries in it), or
when called with `rate_limit_args={"lane": "broadcast"}`; anything else is
interactive. Broadcasts to a chat are also paced to about one message a
second (Telegram's per-chat limit), with a small burst so a digest's text and
chart go together. Replies are not: their pace is the person's own typing,
which the flood gate (bot/flood.py) already bounds, and a reply never waits
for a chat's reminder. Group chats get Telegram's 20 a minute, in both lanes.

The overall rate and the per-chat pacing are aiolimiter leaky buckets. One
pump task is the only one taking slots from the overall bucket, and gives
each slot to the oldest interactive call waiting, else the oldest broadcast:
the bucket sets the pace, the pump sets the order. A 429 (`RetryAfter`) is
handled as PTB's `AIORateLimiter` does: every send waits `retry_after`, then
the call is retried, up to `max_retries` times before the error is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any, Literal

from aiolimiter import AsyncLimiter
from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

Lane = Literal["interactive", "broadcast"]
INTERACTIVE: Lane = "interactive"
BROADCAST: Lane = "broadcast"

_lane: contextvars.ContextVar[Lane] = contextvars.ContextVar("sending_lane", default=INTERACTIVE)
# A 429's wait is padded a little, as AIORateLimiter does, so the retry lands after it.
_RETRY_PAD = 0.1
# Per-chat buckets are dropped once idle, beyond this many chats.
_MAX_CHATS = 512


@contextlib.contextmanager
def broadcast_lane() -> Iterator[None]:
    """Sends made inside this block (in this task) wait in the broadcast lane."""
    token = _lane.set(BROADCAST)
    try:
        yield
    finally:
        _lane.reset(token)


def current_lane() -> Lane:
    """The lane sends made now (in this task) wait in."""
    return _lane.get()


class LaneRateLimiter(BaseRateLimiter[Mapping[str, Any]]):
    """A PTB rate limiter: `rate` messages a second overall, interactive replies first."""

    def __init__(
        self,
        rate: float = 30.0,
        per_chat_interval: float = 1.0,
        per_chat_burst: int = 3,
        group_max_rate: int = 20,
        group_time_period: float = 60.0,
        max_retries: int = 3,
    ) -> None:
        # A bucket of two, draining one every 1/rate s: the rate, without the burst a
        # larger bucket would let through at the start of a broadcast. (A bucket of one
        # loses the pump's few ms of lateness each slot: ~29/s at 30/s.)
        self._overall = AsyncLimiter(2, 2 / rate)
        self._per_chat = (per_chat_burst, per_chat_interval * per_chat_burst)
        self._per_group = (group_max_rate, group_time_period)
        self._chats: dict[int | str, AsyncLimiter] = {}
        self._max_retries = max_retries
        self._waiting: dict[Lane, deque[asyncio.Future[None]]] = {
            INTERACTIVE: deque(),
            BROADCAST: deque(),
        }
        self._pump: asyncio.Task[None] | None = None
        self._resume_at = 0.0  # loop time before which nothing is sent (after a 429)

    async def initialize(self) -> None:
        """Nothing to set up: the pump starts with the first send."""

    async def shutdown(self) -> None:
        """Stop the pump; calls still waiting for a slot are cancelled."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        for queue in self._waiting.values():
            while queue:
                queue.popleft().cancel()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Mapping[str, Any] | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Wait for the chat's pace and a slot of the caller's lane, then call; retry 429s."""
        options = rate_limit_args or {}
        lane: Lane = BROADCAST if options.get("lane", _lane.get()) == BROADCAST else INTERACTIVE
        max_retries = int(options.get("max_retries", self._max_retries))
        chat_id = data.get("chat_id")
        for attempt in range(max_retries + 1):
            if chat_id is not None:  # messages, edits, files: what Telegram's limits count
                pace = self._chat_limiter(chat_id, lane)
                if pace is not None:
                    await pace.acquire()
                await self._slot(lane)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                if attempt == max_retries:
                    log.warning("rate limited by Telegram after %d retries", max_retries)
                    raise
                # The private field, as AIORateLimiter reads it: `retry_after` warns in PTB 22.
                wait = error._retry_after.total_seconds() + _RETRY_PAD
                log.info("rate limited by Telegram: every send waits %.1f s", wait)
                loop = asyncio.get_running_loop()
                self._resume_at = max(self._resume_at, loop.time() + wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _chat_limiter(self, chat_id: object, lane: Lane) -> AsyncLimiter | None:
        """The chat's pacing bucket; None for a reply in a private chat (not paced)."""
        key: int | str
        try:
            key = int(chat_id)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            key = str(chat_id)  # "@channelname"
        private = isinstance(key, int) and key > 0
        if private and lane == INTERACTIVE:
            return None
        limiter = self._chats.get(key)
        if limiter is None:
            if len(self._chats) >= _MAX_CHATS:  # forget idle chats
                for idle in [k for k, v in self._chats.items() if v.has_capacity(v.max_rate)]:
                    del self._chats[idle]
            limiter = AsyncLimiter(*(self._per_chat if private else self._per_group))
            self._chats[key] = limiter
        return limiter

    async def _slot(self, lane: Lane) -> None:
        """Wait until the pump gives this call one slot of the overall budget."""
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[lane].append(granted)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run_pump(), name="sending-pump")
        await granted

    def _next_waiting(self) -> asyncio.Future[None] | None:
        for lane in (INTERACTIVE, BROADCAST):
            queue = self._waiting[lane]
            while queue:
                waiting = queue.popleft()
                if not waiting.done():  # a cancelled caller gives up its place
                    return waiting
        return None

    def _anyone_waiting(self) -> bool:
        return any(not f.done() for queue in self._waiting.values() for f in queue)

    async def _run_pump(self) -> None:
        """Take slots at the overall rate while anyone waits; interactive calls get them first."""
        loop = asyncio.get_running_loop()
        while self._anyone_waiting():
            pause = self._resume_at - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            await self._overall.acquire()
            # Chosen after the wait: an interactive call that came in meanwhile goes first.
            waiting = self._next_waiting()
            if waiting is not None:
                waiting.set_result(None)
        self._pump = None  # no await since the check: a new caller starts a new pump
