"""Load: simulated users through real dialogs, SalesCoach against a bare PTB echo bot.

Simulated users talk to the bot through a fake Bot API server on loopback:
onboarding once, then round after round of the visit checklist (/visit, 21
inputs), an objection (/objection <words>, then how it went) and a /remind. The
same inputs go to a bare python-telegram-bot echo bot (one MessageHandler, one
CallbackQueryHandler, updates handled one at a time) on the same harness.

Each bot runs in its own fresh process (so peak RSS is that bot's alone); the
fake server and the users run in this process. Per update the server notes when
it was queued (available to getUpdates) and when the bot's first reply to that
chat arrived (sendMessage, or editMessageText for a ticked checklist box);
latency is the difference. A calibration user first walks the script once to
count the replies each input gets (and to warm the caches), then per bot:

* closed loop: each user sends its next input once all replies to the last one
  arrived, but at most one per --gap seconds (the bot's flood gate allows 20 in
  10 s), for --duration seconds: with enough users, the bot's capacity;
* open loop, per --rate: one input every 1/rate seconds from whichever user is
  idle, for --duration seconds: latency at a fixed offered rate.

SalesCoach runs with its AIORateLimiter (every message 1/30 s apart, Telegram's
global limit) and without it, on SQLite and, given --postgres, on a fresh
PostgreSQL database. Prints figures, asserts nothing; see bench/README.md.

    .venv/bin/python -m bench.load_bench [--users 200] [--duration 15] [--rate 100]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--limiter both|on|off]
        [--only echo|salescoach|sqlite|postgres] [--rtt MS] [--csv FILE] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any

from tests import fake_telegram
from tests.fake_telegram import FakeTelegram, FakeUser, SentMessage

WAIT_TIMEOUT = 60.0  # longest a user waits for a reply before giving up
SETTLE = 0.25  # calibration: no new reply for this long means the bot has answered
# The bot's flood gate drops a user's updates beyond 20 in 10 s; one input per 0.6 s
# at most keeps every simulated user under it, as a human typing and tapping is.
DEFAULT_GAP = 0.6


# --------------------------------------------------------------------------------------------
# The script every simulated user follows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    key: tuple[str, int]  # where in the script: ("onboarding", 0), ("round1", 3)...
    press: bool  # press the button whose label contains `text`, else type `text`
    text: str


def _steps(part: str, actions: list[tuple[str, str]]) -> list[Step]:
    return [
        Step((part, index), kind == "press", text) for index, (kind, text) in enumerate(actions)
    ]


def onboarding(name: str) -> list[Step]:
    return _steps(
        "onboarding",
        [("say", "/start"), ("press", name), ("press", "Sales rep"), ("press", "Shanghai"),
         ("press", "Skip")],
    )  # fmt: skip


def one_round(number: int, user_id: int) -> list[Step]:
    """A visit checklist, an objection and a reminder; round 2 on as round 2 (accounts exist)."""
    return _steps(
        "round1" if number == 1 else "round2+",
        [
            ("say", "/visit"), ("say", f"Account {user_id}-{number}"), ("press", "Manufacturing"),
            ("say", "tomorrow 3pm"), ("press", "Yes"), ("say", "Director Wang"),
            ("press", "Decision maker"), ("say", "Build the relationship"),
            ("say", "Director Wang agrees to a one-month trial"), ("press", "Their territory"),
            ("press", "We trail"), ("press", "⭐"), ("press", "S1"), ("press", "N2"),
            ("press", "Done"), ("say", "Who signs off on this?"), ("press", "Price too high"),
            ("press", "Done"), ("say", "Compare the five-year cost"), ("press", "Skip"),
            ("say", "Invite them to the Nanjing site"),
            ("say", "/objection Your price is too high & we can't pay that"),
            ("say", "I showed the cost per user per month next to the savings"),
            ("press", "Worked"), ("press", "Skip"),
            ("say", "/remind tomorrow 3pm send the quote"),
        ],
    )  # fmt: skip


def script(user: FakeUser) -> Iterator[Step]:
    yield from onboarding(user.first_name)
    for number in itertools.count(1):
        yield from one_round(number, user.id)


# --------------------------------------------------------------------------------------------
# The harness: the fake server, timing every update
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Sample:
    """One update: when it was queued, fetched, first and last answered."""

    chat: int
    kind: str  # "message" | "callback_query"
    phase: str
    expected: int | None
    queued: float
    event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    fetched: float | None = None
    first: float | None = None
    last: float | None = None
    count: int = 0
    calls: int = 0  # Bot API calls the bot made for this update (answers, edits, sends)


class LoadFakeTelegram(FakeTelegram):
    """The fake server, timing each update from queued to the bot's first reply to that chat.

    A chat has at most one update awaiting replies (users wait for the answer before
    saying more), so every reply belongs to the chat's newest update.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, rtt: float = 0.0) -> None:
        super().__init__()
        self.loop = loop
        self.rtt = rtt
        self.samples: list[Sample] = []
        self._by_update: dict[int, Sample] = {}
        self._open: dict[int, Sample] = {}
        self._recent: dict[int, list[SentMessage]] = {}
        self.phase = ""
        self.expected: int | None = None
        self.last_call = time.perf_counter()  # the bot's latest call other than getUpdates

    def _queue_update(self, kind: str, payload: dict[str, Any]) -> int:
        with self._cond:
            update_id = super()._queue_update(kind, payload)
            message = payload if kind == "message" else payload["message"]
            chat = int(message["chat"]["id"])
            sample = Sample(chat, kind, self.phase, self.expected, time.perf_counter())
            self.samples.append(sample)
            self._by_update[update_id] = sample
            self._open[chat] = sample
            return update_id

    def start(self) -> None:
        # Hundreds of users make the bot open many connections at once; socketserver's
        # default listen backlog of 5 would reset some of them (httpx.ReadError).
        fake_telegram._Server.request_queue_size = 1024
        super().start()

    def _dispatch(self, method: str, params: dict[str, Any], files: dict[str, Any]) -> Any:
        if method.lower() != "getupdates":
            self._count_call(params)  # first: answering a button forgets its query
        reply = super()._dispatch(method, params, files)
        if method.lower() != "getupdates":
            self.last_call = time.perf_counter()
            if self.rtt:
                reply.delay = self.rtt  # the bot waits a network round trip for every answer
        return reply

    def _count_call(self, params: dict[str, Any]) -> None:
        chat = params.get("chat_id")
        if chat is None and "callback_query_id" in params:  # an answer names no chat
            query = self._open_queries.get(str(params["callback_query_id"]))
            chat = query["message"]["chat"]["id"] if query else None
        if not str(chat).lstrip("-").isdigit():
            return
        with self._cond:
            sample = self._open.get(int(str(chat)))
            if sample is not None:
                sample.calls += 1

    async def quiet(self, seconds: float = 1.0, timeout: float = 300.0) -> None:
        """Wait until the bot has called nothing for `seconds`: its queues are empty."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            idle = time.perf_counter() - self.last_call
            if idle >= seconds:
                return
            await asyncio.sleep(seconds - idle)

    def _api_getUpdates(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        updates = super()._api_getUpdates(params, files)
        now = time.perf_counter()
        for update in updates:
            sample = self._by_update.get(update["update_id"])
            if sample is not None and sample.fetched is None:
                sample.fetched = now
        return updates

    def _api_sendMessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        result = super()._api_sendMessage(params, files)
        self._replied(int(result["chat"]["id"]), int(result["message_id"]), new=True)
        return result

    def _api_editMessageText(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        result = super()._api_editMessageText(params, files)
        if isinstance(result, dict):
            self._replied(int(result["chat"]["id"]), int(result["message_id"]), new=False)
        return result

    def _replied(self, chat: int, message_id: int, *, new: bool) -> None:
        # Called on an HTTP thread with the lock held.
        now = time.perf_counter()
        if new:
            recent = self._recent.setdefault(chat, [])
            recent.append(self._messages[(chat, message_id)])
            del recent[:-8]
        sample = self._open.get(chat)
        if sample is None:
            return
        if sample.first is None:
            sample.first = now
        sample.last = now
        sample.count += 1
        self.loop.call_soon_threadsafe(sample.event.set)

    def find_button(self, chat: int, label: str) -> tuple[SentMessage, str]:
        """The newest message to `chat` with a button whose label contains `label`."""
        with self._cond:
            for message in reversed(self._recent.get(chat, [])):
                for text, data in message.buttons():
                    if label in text and data:
                        return message, data
        raise LookupError(f"no {label!r} button in chat {chat}")

    def last_message(self, chat: int) -> SentMessage:
        with self._cond:
            return self._recent[chat][-1]

    def forget_samples(self) -> None:
        with self._cond:
            self._by_update = {k: v for k, v in self._by_update.items() if v.last is None}


class ScriptError(Exception):
    """The bot did not answer as calibrated: a user stops."""


class SimUser:
    """A person working through the script, one input at a time."""

    def __init__(
        self, fake: LoadFakeTelegram, user_id: int, counts: dict[Any, int] | None, gap: float
    ) -> None:
        self.fake = fake
        self.user = FakeUser(user_id, f"Rep{user_id}", "en")
        self.steps = script(self.user)
        self.counts = counts  # replies per step; None: the echo bot, one reply per input
        self.gap = gap
        self.last_sent = float("-inf")
        self.failed: str | None = None

    def ready_at(self) -> float:
        return self.last_sent + self.gap

    async def next(self, phase: str) -> Sample:
        step = next(self.steps)
        expected = 1 if self.counts is None else self.counts[step.key]
        return await self.act(step, phase, expected)

    async def act(self, step: Step, phase: str, expected: int | None) -> Sample:
        fake, chat = self.fake, self.user.id
        pause = self.ready_at() - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        self.last_sent = time.perf_counter()
        with fake._cond:
            fake.phase, fake.expected = phase, expected
            if not step.press:
                update_id = fake.send_text(self.user, step.text)
            elif self.counts is None:  # the echo bot's messages have no buttons
                update_id = fake.press(self.user, fake.last_message(chat), step.text[:32],
                                       must_exist=False)  # fmt: skip
            else:
                message, data = fake.find_button(chat, step.text)
                update_id = fake.press(self.user, message, data)
            sample = fake._by_update[update_id]
        if expected is None:
            sample.expected = await settle(sample)
        elif not await wait_for_replies(sample, expected, WAIT_TIMEOUT):
            raise ScriptError(f"{step.key} {step.text!r}: {sample.count} of {expected} replies")
        return sample


async def wait_for_replies(sample: Sample, expected: int, timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while sample.count < expected:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return False
        sample.event.clear()
        if sample.count >= expected:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sample.event.wait(), remaining)
    return True


async def settle(sample: Sample) -> int:
    """Calibration: wait for a first reply, then until the bot has been quiet for SETTLE."""
    if not await wait_for_replies(sample, 1, WAIT_TIMEOUT):
        raise ScriptError("no reply at all during calibration")
    while True:
        seen = sample.count
        await asyncio.sleep(SETTLE)
        if sample.count == seen:
            return seen


async def calibrate(fake: LoadFakeTelegram, gap: float) -> dict[Any, int]:
    """One user through onboarding and two rounds, counting the replies to each step."""
    user = SimUser(fake, 9_000_000, None, gap)
    user.counts = {}  # find buttons for real
    counts: dict[Any, int] = {}
    for step in itertools.islice(user.steps, len(onboarding("x")) + 2 * len(one_round(1, 0))):
        sample = await user.act(step, "calibration", None)
        assert sample.expected is not None
        counts.setdefault(step.key, sample.expected)
    return counts


# --------------------------------------------------------------------------------------------
# Load phases
# --------------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    mode: str
    users: int
    start: float
    end: float
    samples: list[Sample]
    errors: list[str]
    late: int = 0  # open loop: slots with no idle user, sent late
    bot_cpu: float | None = None  # share of one core
    harness_cpu: float = 0.0
    other_cpu: float | None = None  # everything else on the machine, in cores


async def closed_loop(
    users: list[SimUser], duration: float, tag: str
) -> tuple[float, float, list[str]]:
    start = time.perf_counter()
    deadline = start + duration

    async def run(user: SimUser, index: int) -> None:
        await asyncio.sleep(user.gap * index / len(users))  # no thundering herd at the start
        while time.perf_counter() < deadline and user.failed is None:
            try:
                await user.next(tag)
            except (ScriptError, LookupError, AssertionError) as error:
                user.failed = str(error)

    await asyncio.gather(*(run(user, index) for index, user in enumerate(users)))
    return start, time.perf_counter(), [u.failed for u in users if u.failed]


async def open_loop(
    users: list[SimUser], rate: float, duration: float, tag: str
) -> tuple[float, float, list[str], int]:
    ready: asyncio.Queue[SimUser] = asyncio.Queue()
    for user in users:
        if user.failed is None:
            ready.put_nowait(user)
    tasks: set[asyncio.Task[None]] = set()
    late = 0

    async def one(user: SimUser) -> None:
        try:
            await user.next(tag)
        except (ScriptError, LookupError, AssertionError) as error:
            user.failed = str(error)
            return
        pause = user.ready_at() - time.perf_counter()
        if pause > 0:  # idle again only once its pacing allows another input
            await asyncio.sleep(pause)
        ready.put_nowait(user)

    start = time.perf_counter()
    slots = int(rate * duration)
    for slot in range(slots):
        delay = start + slot / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if ready.empty():  # every user still waits for replies: the slot is late
            late += 1
            remaining = start + duration - time.perf_counter()
            try:
                user = await asyncio.wait_for(ready.get(), max(remaining, 1e-3))
            except TimeoutError:
                late += slots - slot - 1  # never sent: the phase is over
                break
        else:
            user = ready.get_nowait()
        task = asyncio.create_task(one(user))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    sent_until = time.perf_counter()
    if tasks:
        await asyncio.wait(tasks, timeout=WAIT_TIMEOUT)
    return start, sent_until, [u.failed for u in users if u.failed], late


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes on the machine used so far, from /proc/stat (Linux)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process and its live children (worker processes), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(child) or 0.0 for child in _children(pid))


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children += [int(child) for child in (task / "children").read_text().split()]
    return children


async def run_phases(
    fake: LoadFakeTelegram, pid: int, counts: dict[Any, int] | None, args: argparse.Namespace
) -> list[PhaseResult]:
    users = [SimUser(fake, 1_000_000 + index, counts, args.gap) for index in range(args.users)]
    results = []
    phases: list[tuple[str, Any]] = [("closed", None)]
    phases += [(f"open {rate:g}/s", rate) for rate in args.rates]
    for mode, rate in phases:
        await fake.quiet()  # e.g. button removals still queued in the rate limiter
        if rate is not None:  # enough users that the offered rate never waits for one
            needed = int(2 * rate * args.gap) + 1
            extra = range(len(users), needed)
            users += [SimUser(fake, 1_000_000 + i, counts, args.gap) for i in extra]
        # The fake server's clock is this process's: its own full GC passes over the
        # samples and messages kept so far would show up as the bot's latency.
        gc.collect()
        gc.freeze()
        cpu_before, harness_before = cpu_seconds(pid), time.process_time()
        machine_before = machine_busy_seconds()
        if rate is None:
            start, end, errors = await closed_loop(users, args.duration, mode)
            late = 0
        else:
            start, end, errors, late = await open_loop(users, rate, args.duration, mode)
        wall = time.perf_counter() - start
        cpu_after, machine_after = cpu_seconds(pid), machine_busy_seconds()
        harness = (time.process_time() - harness_before) / wall
        bot_cpu = None
        if cpu_before is not None and cpu_after is not None:
            bot_cpu = (cpu_after - cpu_before) / wall
        other = None
        if machine_before is not None and machine_after is not None and bot_cpu is not None:
            other = max(0.0, (machine_after - machine_before) / wall - bot_cpu - harness)
        with fake._cond:
            samples = [s for s in fake.samples if s.phase == mode]
        results.append(
            PhaseResult(
                mode,
                len(users),
                start,
                end,
                samples,
                errors,
                late,
                bot_cpu,
                harness,
                other,
            )
        )
    return results


# --------------------------------------------------------------------------------------------
# The bots, each in a fresh process
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BotConfig:
    label: str
    kind: str  # "echo" | "salescoach"
    database: str = "-"  # "sqlite" | "postgres" | "-"
    limiter: bool = False
    bound: int = 0  # bench only: see bounded_processor
    workers: int = 0  # bench only: see ProcessEngine


def build_echo_bot(token: str, base_url: str, file_url: str) -> Any:
    """A bare PTB application: echo text, answer buttons; updates one at a time."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler
    from telegram.ext import filters as ptb_filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None and update.effective_message is not None
        text = update.effective_message.text or "?"
        await context.bot.send_message(update.effective_chat.id, text)

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and update.effective_chat is not None
        await query.answer()
        await context.bot.send_message(update.effective_chat.id, query.data or "?")

    application = (
        ApplicationBuilder().token(token).base_url(base_url).base_file_url(file_url).build()
    )
    application.add_handler(MessageHandler(ptb_filters.TEXT, echo))
    application.add_handler(CallbackQueryHandler(answer))
    return application


def bounded_processor(running: int) -> Any:
    """Bench only (--bound): at most `running` updates handled at once, each under its user's lock.

    Taking the slot after the per-user lock means one user's queued updates never hold
    slots other users need. A candidate for bot/updates.py, measured here first.
    """
    from bot.updates import PerUserUpdateProcessor

    class Bounded(PerUserUpdateProcessor):
        def __init__(self) -> None:
            super().__init__()
            self._running = asyncio.Semaphore(running)

        async def do_process_update(self, update: object, coroutine: Any) -> None:
            async def in_slot() -> None:
                async with self._running:
                    await coroutine

            await super().do_process_update(update, in_slot())

    return Bounded()


class ProcessEngine:
    """Bench only (--engine-processes): each turn runs in a worker process, not this one.

    A candidate way to use the second core: the event loop keeps Telegram I/O,
    workers do the database and dialog work. `handle` is still called on a worker
    thread under the user's lock, so per-user order holds.
    """

    def __init__(self, engine: Any, workers: int, database_url: str) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self._engine = engine
        self._pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker_engine,
            initargs=(database_url,),
        )
        list(self._pool.map(_worker_pid, range(workers)))  # start them before the load

    def handle(self, sender: Any, incoming: Any) -> Any:
        return self._pool.submit(_worker_handle, sender, incoming).result()

    def shutdown(self) -> None:
        self._pool.shutdown()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


_worker_engine: Any = None


def _start_worker_engine(database_url: str) -> None:
    global _worker_engine
    from bot.runtime import build_engine
    from bot.settings import Settings
    from dialogs.core.steps import Services

    _worker_engine = build_engine(Settings(SALESCOACH_DATABASE_URL=database_url), Services())


def _worker_pid(_: int) -> int:
    time.sleep(0.2)  # so that every worker, not one, takes a task and starts
    return os.getpid()


def _worker_handle(sender: Any, incoming: Any) -> Any:
    return _worker_engine.handle(sender, incoming)


def bot_process(
    config: BotConfig,
    urls: tuple[str, str, str],
    database_url: str,
    ready: ProcessEvent,
    stop: ProcessEvent,
    results: Any,
) -> None:
    """The child: start the bot, poll until told to stop, report peak RSS."""
    asyncio.run(_serve(config, urls, database_url, ready, stop, results))


async def _serve(
    config: BotConfig,
    urls: tuple[str, str, str],
    database_url: str,
    ready: ProcessEvent,
    stop: ProcessEvent,
    results: Any,
) -> None:
    import resource

    token, base_url, file_url = urls
    started = time.perf_counter()
    if config.kind == "echo":
        application = build_echo_bot(token, base_url, file_url)
    else:
        from bot.logs import configure_logging
        from bot.runtime import freeze_startup_objects
        from bot.settings import Settings
        from bot.telegram_bot import build_application

        configure_logging("WARNING", [token])
        application = build_application(
            Settings(
                TELEGRAM_BOT_TOKEN=token,
                TELEGRAM_API_URL=base_url,
                TELEGRAM_FILE_URL=file_url,
                SALESCOACH_DATABASE_URL=database_url,
            )
        )
        freeze_startup_objects()  # as `salescoach run` does
        if not config.limiter:
            application.bot._rate_limiter = None  # bench only: no spacing of messages
        if config.bound:
            application._update_processor = bounded_processor(config.bound)
        if config.workers:
            engine = application.bot_data["engine"]
            application.bot_data["engine"] = ProcessEngine(engine, config.workers, database_url)
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    await application.start()
    await application.updater.start_polling(poll_interval=0.0, timeout=1)
    ready_after = time.perf_counter() - started
    ready.set()
    while not stop.is_set():  # not run_in_executor: that would take a to_thread worker
        await asyncio.sleep(0.1)
    await application.updater.stop()
    await application.stop()
    await application.shutdown()
    engine = application.bot_data.get("engine")
    if isinstance(engine, ProcessEngine):
        engine.shutdown()
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.put({"rss_mb": peak_rss_mb, "ready_s": ready_after})


@contextlib.contextmanager
def database_for(config: BotConfig, postgres: str | None) -> Iterator[str]:
    """A fresh SQLite file or PostgreSQL database, removed afterwards."""
    if config.database == "postgres":
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        from storage.db import normalise_url

        assert postgres is not None
        server = create_engine(normalise_url(postgres), isolation_level="AUTOCOMMIT")
        name = f"salescoach_bench_{uuid.uuid4().hex[:10]}"
        with server.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(normalise_url(postgres)).set(database=name)
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            with server.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            server.dispose()
    else:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"


@dataclass
class RunResult:
    config: BotConfig
    phases: list[PhaseResult]
    rss_mb: float
    ready_s: float


async def run_bot(
    config: BotConfig, args: argparse.Namespace, profile_dir: Path | None
) -> RunResult:
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    ready, stop, results = context.Event(), context.Event(), context.Queue()
    with (
        database_for(config, args.postgres) as database_url,
        LoadFakeTelegram(loop, args.rtt / 1000) as fake,
    ):
        process = context.Process(
            target=bot_process,
            args=(config, (fake.token, fake.base_url, fake.base_file_url), database_url,
                  ready, stop, results),
            daemon=not config.workers,  # a daemon may not start worker processes
        )  # fmt: skip
        process.start()
        try:
            if not await asyncio.to_thread(ready.wait, 120):
                raise RuntimeError(f"{config.label}: the bot did not start")
            assert process.pid is not None
            if config.kind == "echo":
                counts = None
                warm = SimUser(fake, 9_000_001, None, args.gap)
                for _ in range(10):
                    await warm.next("calibration")
            else:
                counts = await calibrate(fake, args.gap)
            fake.forget_samples()
            with profiling(process.pid, config, profile_dir, args.profile_all_threads):
                phases = await run_phases(fake, process.pid, counts, args)
        finally:
            stop.set()
            report = await asyncio.to_thread(results.get, True, 60)
            process.join(30)
    return RunResult(config, phases, report["rss_mb"], report["ready_s"])


@contextlib.contextmanager
def profiling(
    pid: int, config: BotConfig, profile_dir: Path | None, all_threads: bool
) -> Iterator[None]:
    """py-spy sampling the bot's process while the block runs.

    By default only the thread holding the GIL is sampled: the bot is one Python
    process, so that is what bounds its throughput. `all_threads` samples every
    running thread (SQLite and psycopg work outside the GIL shows up too).
    """
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if profile_dir is None or config.kind == "echo" or not Path(spy).exists():
        yield
        return
    profile_dir.mkdir(parents=True, exist_ok=True)
    output = profile_dir / f"{config.label.replace(' ', '-')}.txt"
    process = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "250",
         "--output", str(output), "--nonblocking", *([] if all_threads else ["--gil"])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
        if output.exists():
            summarise_profile(output)


def summarise_profile(path: Path, top: int = 15) -> None:
    """Inclusive share of samples per function, from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [frame.split(" (", 1)[0] + " " + _where(frame) for frame in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    if total == 0:
        return
    print(f"\nprofile {path} ({total} samples): inclusive / own share")
    for frame, count in inclusive.most_common(top * 3)[:top]:
        print(f"  {100 * count / total:5.1f}%  {100 * own[frame] / total:5.1f}%  {frame}")


def _where(frame: str) -> str:
    if "(" not in frame:
        return ""
    location = frame.split(" (", 1)[1].rstrip(")")
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in location:
            return "(" + location.split(marker, 1)[1].split(":", 1)[0] + ")"
    return "(" + location.split(":", 1)[0] + ")"


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * share + 0.5) - 1))]


def phase_figures(phase: PhaseResult) -> dict[str, Any]:
    answered = [(s, s.first, s.last or s.first) for s in phase.samples if s.first is not None]
    latencies = [1000 * (first - s.queued) for s, first, _ in answered]
    complete = [1000 * (last - s.queued) for s, _, last in answered]
    fetch = [1000 * (s.fetched - s.queued) for s, _, _ in answered if s.fetched]
    wall = max(phase.end - phase.start, 1e-9)
    in_window = sum(1 for _, first, _ in answered if phase.start <= first <= phase.end)
    mismatched = sum(1 for s in phase.samples if s.expected is not None and s.count != s.expected)
    return {
        "updates": len(phase.samples),
        "rate": in_window / wall,
        "offered": len(phase.samples) / wall,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": percentile(latencies, 0.99) if latencies else float("nan"),
        "p99_all": percentile(complete, 0.99) if complete else float("nan"),
        "fetch_p50": statistics.median(fetch) if fetch else float("nan"),
        "errors": len(phase.errors) + mismatched,
        "calls": sum(s.calls for s, _, _ in answered) / len(answered) if answered else None,
    }


COLUMNS = [  # heading, width, format
    ("bot", -30, "{}"), ("mode", -11, "{}"), ("users", 5, "{}"), ("updates", 7, "{}"),
    ("upd/s", 6, "{:.1f}"), ("×echo", 5, "{:.2f}"), ("p50 ms", 7, "{:.1f}"),
    ("p99 ms", 7, "{:.1f}"), ("p99 all", 7, "{:.1f}"), ("poll", 5, "{:.1f}"),
    ("calls", 5, "{:.2f}"), ("CPU ms/upd", 10, "{:.2f}"), ("bot CPU", 7, "{:.0%}"),
    ("harn.", 5, "{:.0%}"),
    ("other", 5, "{:.0%}"), ("RSS MB", 6, "{:.0f}"), ("late", 5, "{}"), ("err", 4, "{}"),
]  # fmt: skip
LEGEND = """\
upd/s: updates answered per second; ×echo: upd/s against the echo bot's closed loop;
p50/p99 ms: update queued → first reply; p99 all: → last reply of that update;
poll: p50 ms queued → fetched by getUpdates; calls: Bot API calls per update (answers,
edits and sends, getUpdates not counted); CPU ms/upd: the bot process's CPU time per
update; bot CPU: share of one core; harn.: this process (fake server + users); other: the
rest of the machine (2 cores = 200%; if high, rerun); late: open-loop slots that found no
idle user (sent late, or not at all); err: users stopped or reply counts off."""


def _cell(value: Any, width: int, form: str) -> str:
    text = "-" if value is None else form.format(value)
    return text.ljust(-width) if width < 0 else text.rjust(width)


def print_table(runs: list[RunResult]) -> None:
    echo_rate = next(
        (phase_figures(r.phases[0])["rate"] for r in runs if r.config.kind == "echo"), None
    )
    header = " ".join(_cell(name, width, "{}") for name, width, _ in COLUMNS)
    print(f"\n{header}\n{'-' * len(header)}")
    for run in runs:
        for phase in run.phases:
            f = phase_figures(phase)
            wall = max(phase.end - phase.start, 1e-9)
            answered = f["rate"] * wall
            cpu_ms = None
            if phase.bot_cpu is not None and answered:
                cpu_ms = 1000 * phase.bot_cpu * wall / answered
            values = [
                run.config.label, phase.mode, phase.users, f["updates"], f["rate"],
                f["rate"] / echo_rate if echo_rate else None, f["p50"], f["p99"], f["p99_all"],
                f["fetch_p50"], f["calls"], cpu_ms, phase.bot_cpu, phase.harness_cpu,
                phase.other_cpu,
                run.rss_mb, phase.late, f["errors"],
            ]  # fmt: skip
            print(
                " ".join(_cell(v, w, form) for v, (_, w, form) in zip(values, COLUMNS, strict=True))
            )
    print(LEGEND)
    for run in runs:
        for phase in run.phases:
            for error in sorted(set(phase.errors))[:3]:
                print(f"  {run.config.label} {phase.mode}: {error}")


def configs(args: argparse.Namespace) -> list[BotConfig]:
    limiters = {"both": [True, False], "on": [True], "off": [False]}[args.limiter]
    databases = ["sqlite"] + (["postgres"] if args.postgres else [])
    chosen = [BotConfig("echo (bare PTB)", "echo")]
    for database in databases:
        for limiter in limiters:
            label = f"salescoach {database} limiter {'on' if limiter else 'off'}"
            if args.bound:
                label += f" bound {args.bound}"
            if args.engine_processes:
                label += f" +{args.engine_processes} proc"
            chosen.append(
                BotConfig(label, "salescoach", database, limiter, args.bound, args.engine_processes)
            )
    if args.only:
        chosen = [c for c in chosen if args.only in (c.kind, c.database)]
    return chosen


async def main_async(args: argparse.Namespace) -> None:
    profile_dir = Path(args.profile) if args.profile else None
    runs = []
    for config in configs(args):
        started = time.perf_counter()
        result = await run_bot(config, args, profile_dir)
        runs.append(result)
        print(
            f"{config.label}: ready in {result.ready_s:.2f} s, peak RSS {result.rss_mb:.0f} MB, "
            f"run took {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    print_table(runs)
    if args.csv:
        write_csv(Path(args.csv), runs)


def write_csv(path: Path, runs: list[RunResult]) -> None:
    """Every update of every phase, times in ms from the phase's start."""
    with path.open("w", encoding="utf-8") as out:
        out.write("bot,mode,kind,queued_ms,fetched_ms,first_reply_ms,last_reply_ms,replies\n")
        for run in runs:
            for phase in run.phases:
                for s in phase.samples:
                    times = [s.queued, s.fetched, s.first, s.last]
                    cells = ["" if t is None else f"{1000 * (t - phase.start):.2f}" for t in times]
                    row = [run.config.label, phase.mode, s.kind, *cells, str(s.count)]
                    out.write(",".join(row) + "\n")
    print(f"per-update times written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=200, help="simulated users (default 200)")
    parser.add_argument(
        "--gap", type=float, default=DEFAULT_GAP, help="least seconds between one user's inputs"
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument(
        "--rate", default="100", help="open-loop updates/s, comma-separated for several; 0: none"
    )
    parser.add_argument("--postgres", help="server URL; a fresh database is created and dropped")
    parser.add_argument("--limiter", choices=["both", "on", "off"], default="both")
    parser.add_argument("--only", choices=["echo", "salescoach", "sqlite", "postgres"])
    parser.add_argument(
        "--rtt", type=float, default=0.0, help="ms the fake server waits before answering a call"
    )
    parser.add_argument(
        "--engine-processes",
        type=int,
        default=0,
        help="bench only: run turns in N worker processes",
    )
    parser.add_argument(
        "--bound", type=int, default=0, help="bench only: at most N updates handled at once"
    )
    parser.add_argument("--csv", metavar="FILE", help="write every update's times to FILE")
    parser.add_argument("--profile", metavar="DIR", help="py-spy each SalesCoach run into DIR")
    parser.add_argument(
        "--profile-all-threads", action="store_true", help="sample all threads, not the GIL's"
    )
    args = parser.parse_args()
    args.rates = [rate for rate in (float(text) for text in args.rate.split(",")) if rate > 0]
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
