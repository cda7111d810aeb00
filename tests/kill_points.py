"""Kill-point harness: a rep's week of dialogs against the real bot in a subprocess, killed
with SIGKILL at chosen points and restarted, compared with an uninterrupted run.

Five timings, each placed exactly by the fake Bot API server (which sees every call):

- before_fetch: the bot is idle and killed; the rep types while it is down.
- after_fetch: killed 0–40 ms after getUpdates handed it the rep's input.
- mid_turn: killed 5–60 ms after the fetch, or when its first reply arrives (not accepted).
- between_replies: killed when a turn's second message arrives (the first was sent).
- after_reply: killed once the turn's replies are all sent and recorded.

And one more, `window`: killed just after Telegram accepted a reply, before the bot could
record it as sent: the one place a message can go twice (bench/kill_bench.py counts them).

Used by tests/test_kill_points.py (a few seeded kills) and bench/kill_bench.py (100).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine as Database
from sqlalchemy import MetaData, select, text
from sqlmodel import Session

from storage.db import make_engine
from storage.migrate import upgrade
from tests.e2e import KillableProcess
from tests.fake_telegram import FakeTelegram, FakeUser, SentMessage, _Reply

TIMINGS = ("before_fetch", "after_fetch", "mid_turn", "between_replies", "after_reply")
WINDOW = "window"
SENDS = {"sendmessage", "sendphoto", "senddocument", "editmessagetext"}
# Tables of the bot's own machinery, and columns that differ between any two runs
# (ids from sequences a rolled-back turn advanced, timestamps).
_MACHINERY = {"inbox", "outbox", "processed_updates", "alembic_version", "invite_failures"}

# A rep's week: onboarding, a whole /visit, /remind, an unplanned /debrief with its
# coaching card, /followups and a follow-up done, /accounts. Typed text where a person
# could type, buttons where they would press.
WEEK = """
say /start
press Ana
press Sales rep
press Shanghai
press Skip
say /visit
say Huaxin Steel & Co
press Manufacturing
say tomorrow 3pm
press Yes
say Director Wang
press Decision maker
say Build the relationship
say Director Wang agrees to a one-month trial
press Their territory
press We trail
press ⭐
say 1, 3
say Who signs off on this?
say 1
say Compare the five-year cost
press Skip
say Bring the pilot report
say /remind tomorrow 9am call Wang about the PO
say /debrief
press Huaxin
say Nervous, then fine <honestly> & relieved
say Director Wang agrees to a one-month trial
say Open with their downtime figures, then ask for the trial
say He liked the figures but would not commit before the budget meeting
say Budget is decided in January
press Continuation
say A meeting with Finance about the budget timing
say The downtime figures
say Ask for the commitment before leaving
press 7 ·
press 5 ·
press 3 ·
press 5 ·
press Skip
press Target customer
press Neutral ground
press We lead
say Call Finance about the budget meeting
say tomorrow 3pm
press Yes
say /followups
press ✅ Done
say /accounts
say /cancel
"""


@dataclass(frozen=True)
class Step:
    """One input of the rep: typed text, or a press of the newest button with this label."""

    kind: str
    text: str


def week() -> list[Step]:
    steps = []
    for line in WEEK.strip().splitlines():
        kind, _, rest = line.partition(" ")
        steps.append(Step(kind, rest))
    return steps


@dataclass(frozen=True)
class Kill:
    """Kill the bot at `timing` while it handles step `step`."""

    step: int
    timing: str


def plan_kills(
    count: int, seed: int, steps: int, multi_reply: list[int], timings: tuple[str, ...] = TIMINGS
) -> list[Kill]:
    """`count` kills over the timings in turn, at seeded random steps; a step gets at most one
    kill while its turn runs (after_fetch, mid_turn, between_replies, window), and
    between_replies only where a turn sends two messages or more."""
    rng = random.Random(seed)
    kills: list[Kill] = []
    running: set[int] = set()  # steps with a kill while the turn runs
    for index in range(count):
        timing = timings[index % len(timings)]
        pool = multi_reply if timing == "between_replies" else list(range(steps))
        if timing not in ("before_fetch", "after_reply"):
            pool = [step for step in pool if step not in running] or pool
        step = rng.choice(pool)
        if timing not in ("before_fetch", "after_reply"):
            running.add(step)
        kills.append(Kill(step, timing))
    return sorted(kills, key=lambda kill: (kill.step, (*TIMINGS, WINDOW).index(kill.timing)))


# ----- the fake server, able to kill the bot at an exact call ----------------------------


@dataclass
class Arm:
    """What the server waits for to kill the bot, during one step."""

    timing: str
    update_id: int
    delay: float  # after_fetch / mid_turn: seconds after the fetch
    sends: int = 0
    fetched: bool = False


class KillingTelegram(FakeTelegram):
    """The fake Bot API server, killing the bot through `kill` when an armed point comes."""

    def __init__(self) -> None:
        super().__init__()
        self.kill: Callable[[], None] = lambda: None
        self.armed: Arm | None = None
        self.fired = threading.Event()
        self.accepted = 0  # sends and edits Telegram took (each outbox message is one here)

    def arm(self, arm: Arm) -> None:
        with self._cond:
            self.fired.clear()
            self.armed = arm

    def disarm(self) -> None:
        with self._cond:
            self.armed = None

    def fire(self) -> None:
        with self._cond:
            if self.armed is None:
                return
            self.armed = None
            self.kill()
            self.fired.set()

    def _dispatch(self, method: str, params: dict[str, Any], files: dict[str, Any]) -> _Reply:
        name = method.lower()
        arm = self.armed
        if arm is not None and name in SENDS and arm.fetched:
            arm.sends += 1
            if arm.timing == "mid_turn" or (arm.timing == "between_replies" and arm.sends == 2):
                self.fire()  # before the message is accepted: it never reached the user
                return _Reply.json(502, {"ok": False, "error_code": 502}, drop_connection=True)
            if arm.timing == WINDOW:
                reply = super()._dispatch(method, params, files)  # accepted...
                self.accepted += 1
                self.fire()  # ...and the bot dies before it can record that
                return reply
        reply = super()._dispatch(method, params, files)
        if name in SENDS and reply.status == 200:
            self.accepted += 1
        arm = self.armed  # read again: a long poll may have waited since the arming
        fetched = f'"update_id": {arm.update_id},'.encode() if arm is not None else b""
        if arm is not None and not arm.fetched and name == "getupdates" and fetched in reply.body:
            arm.fetched = True
            if arm.timing in ("after_fetch", "mid_turn"):
                threading.Timer(arm.delay, self.fire).start()
        return reply


# ----- the bot process ---------------------------------------------------------------


class Bot(KillableProcess):
    """`salescoach run` (long polling) or `run --webhook` as a killable OS process."""

    stop_timeout = 20.0

    def __init__(
        self,
        fake: FakeTelegram,
        database_url: str,
        log_path: Path,
        webhook_port: int | None = None,
    ) -> None:
        super().__init__(log_path)
        self.fake = fake
        self.database_url = database_url
        self.webhook_port = webhook_port

    def command(self) -> list[str]:
        return ["run"] if self.webhook_port is None else ["run", "--webhook"]

    def environment(self) -> dict[str, str]:
        env = {
            "TELEGRAM_BOT_TOKEN": self.fake.token,
            "TELEGRAM_API_URL": self.fake.base_url,
            "TELEGRAM_FILE_URL": self.fake.base_file_url,
            "SALESCOACH_DATABASE_URL": self.database_url,
            "SALESCOACH_DISPATCH_INTERVAL": "0.2",
            "SALESCOACH_FLOOD_LIMIT": "0",
            "SALESCOACH_LOG_LEVEL": "INFO",
        }
        if self.webhook_port is not None:
            env |= {
                "SALESCOACH_WEBHOOK_URL": "https://bot.example.com/tg/hook",
                "SALESCOACH_WEBHOOK_SECRET": SECRET,
                "SALESCOACH_WEBHOOK_LISTEN": f"127.0.0.1:{self.webhook_port}",
            }
        return env


SECRET = "kill-points-secret"


# ----- one run of the week --------------------------------------------------------------


@dataclass
class Run:
    """What a run of the week left: each step's messages, and the stored rows."""

    per_step: list[list[tuple[str, str]]] = field(default_factory=list)
    # Every message as it reads at the end (a pressed button's message may have been edited).
    final: list[tuple[str, str]] = field(default_factory=list)
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    kills: int = 0
    # Steps where a kill fell between Telegram accepting a message and the bot recording it
    # (by design at `window` kills, by chance at a timed one), with how many such messages.
    window: dict[int, int] = field(default_factory=dict)


@dataclass
class Comparison:
    """How a killed run differs from the uninterrupted one."""

    lost_inputs: int  # steps with no reply at all where replies were due
    unsent: int  # messages due and never sent (in steps that got some)
    duplicates: int  # messages sent more than once
    other: int  # messages that differ otherwise
    rows_equal: bool
    final_equal: bool  # every message reads the same at the end (edits included)
    window_duplicates: int = 0  # duplicates at `window` kills (the documented window)


def compare(reference: Run, run: Run) -> Comparison:
    """Step by step; a repeat at a step where a kill fell in the window counts apart."""
    window_steps = set(run.window)
    lost = unsent = duplicates = other = window = 0
    for index, (due, got) in enumerate(zip(reference.per_step, run.per_step, strict=True)):
        if got == due:
            continue
        if due and not got:
            lost += 1
            continue
        missing = list(due)
        extra = []
        for message in got:
            if message in missing:
                missing.remove(message)
            else:
                extra.append(message)
        unsent += len(missing)
        repeated = [message for message in extra if message in due]
        if index in window_steps:
            window += len(repeated)
        else:
            duplicates += len(repeated)
        other += len(extra) - len(repeated)
    rows_equal = reference.rows == run.rows
    final_equal = reference.final == run.final
    return Comparison(lost, unsent, duplicates, other, rows_equal, final_equal, window)


class Week:
    """Drives one run: the rep's inputs, the bot's kills and restarts."""

    def __init__(
        self,
        fake: KillingTelegram,
        database_url: str,
        workdir: Path,
        *,
        webhook_ports: list[int] | None = None,
        quiet_timeout: float = 30.0,
    ) -> None:
        self.fake = fake
        self.database_url = database_url
        self.workdir = workdir
        self.webhook_ports = webhook_ports
        self.quiet_timeout = quiet_timeout
        self.user = FakeUser(4242, "Ana", "en")
        self.database: Database = make_engine(database_url)
        upgrade(self.database)  # once, before any process, so two don't race to migrate
        ports = webhook_ports or [None]  # type: ignore[list-item]
        self.bots = [
            Bot(fake, database_url, workdir / f"bot{index}.log", port)
            for index, port in enumerate(ports)
        ]
        self.poster = WebhookPoster(fake, webhook_ports) if webhook_ports else None
        self.rng = random.Random(7)
        self.gap = 0  # messages accepted minus messages recorded sent, at the last kill

    # -- the bots

    def start_all(self) -> None:
        for bot in self.bots:
            bot.start()
        if self.poster is not None:
            self.poster.wait_healthy()

    def restart_dead(self) -> None:
        dead = [bot for bot in self.bots if not bot.alive]
        for bot in dead:
            bot.start()
        if self.poster is not None and dead:
            self.poster.wait_healthy()

    def kill_one(self) -> None:
        """The bot handling the rep (polling: the only one; webhook: the last one posted to)."""
        target = self.bots[self.poster.last if self.poster is not None else 0]
        target.kill()

    def stop_all(self) -> None:
        for bot in self.bots:
            bot.stop()
        self.database.dispose()

    # -- the rep

    def perform(self, step: Step) -> int:
        """Type or press; returns the new update's id."""
        if step.kind == "say":
            update_id = self.fake.send_text(self.user, step.text)
        else:
            message = self._with_button(step.text)
            data = next(data for label, data in message.buttons() if step.text in label)
            update_id = self.fake.press(self.user, message, data)
        if self.poster is not None:
            self.poster.deliver_pending()
        return update_id

    def _with_button(self, label: str) -> SentMessage:
        for message in reversed(self.fake.messages_to(self.user.id)):
            if any(label in text for text, _ in message.buttons()):
                return message
        raise AssertionError(f"no message has a {label!r} button")

    # -- waiting

    def quiet(self) -> bool:
        """Nothing left to fetch, handle or send."""
        if self.poster is not None:
            self.poster.deliver_pending()
            if self.poster.undelivered:
                return False
        elif self.fake.pending_updates:
            return False
        with self.database.connect() as connection:
            waiting = connection.execute(
                text(
                    "SELECT (SELECT COUNT(*) FROM inbox WHERE handled_at IS NULL)"
                    " + (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed IS NULL)"
                )
            ).scalar_one()
        return int(waiting) == 0

    def wait_quiet(self) -> None:
        deadline = time.monotonic() + self.quiet_timeout
        settled = 0
        while settled < 3:  # quiet three looks in a row: the last edits are in too
            settled = settled + 1 if self.quiet() else 0
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot did not settle; logs in {self.workdir}")
            time.sleep(0.05)

    # -- the week

    def note_window(self, result: Run, index: int) -> None:
        """Right after a kill: messages Telegram took that the dead bot had not recorded as
        sent (webhook mode: the survivor may still be sending, so its count waits a moment)."""
        if self.poster is not None:
            time.sleep(0.3)
        with self.database.connect() as connection:
            marked = connection.execute(
                text("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL")
            ).scalar_one()
        # Each message resent after such a kill is accepted and recorded alike, so the gap
        # between the two counts grows by exactly the messages caught in the window.
        gap = self.fake.accepted - int(marked)
        if gap > self.gap:
            result.window[index] = result.window.get(index, 0) + gap - self.gap
        self.gap = gap

    def run(self, kills: list[Kill]) -> Run:
        self.fake.kill = self.kill_one
        result = Run()
        by_step: dict[int, list[str]] = {}
        for kill in kills:
            by_step.setdefault(kill.step, []).append(kill.timing)
        self.start_all()
        try:
            for index, step in enumerate(week()):
                before = len(self.fake.messages_to(self.user.id))
                timings = by_step.get(index, [])
                self.step(step, timings, result, index)
                result.kills += len(timings)
                messages = self.fake.messages_to(self.user.id)[before:]
                result.per_step.append([_content(message) for message in messages])
            result.final = [_content(message) for message in self.fake.messages_to(self.user.id)]
        finally:
            self.fake.kill = lambda: None
            self.stop_all()
        result.rows = stored_rows(self.database_url)
        return result

    def step(self, step: Step, timings: list[str], result: Run, index: int) -> None:
        # Kills before the input is handled, then the ones that need it under way.
        if "before_fetch" in timings:
            self.wait_quiet()
            self.kill_one()
            self.note_window(result, index)
        armed = [t for t in timings if t not in ("before_fetch", "after_reply")]
        for timing in armed[:1]:  # one kill per turn while it runs; the others after
            low, high = (0.005, 0.06) if timing == "mid_turn" else (0.0, 0.04)
            arm = Arm(timing, self.fake._next_update_id, self.rng.uniform(low, high))
            # Webhook mode has no getUpdates: the turn starts when the update is posted.
            arm.fetched = self.poster is not None
            self.fake.arm(arm)
        self.perform(step)  # typed while the bot is down, after a kill before the fetch
        if armed and self.poster is None:
            # ...and back up for the kill during the turn. (Webhook mode: the other process
            # took the update; a restart now could race the kill about to come.)
            self.restart_dead()
        if armed and self.poster is not None and armed[0] in ("after_fetch", "mid_turn"):
            threading.Timer(self.fake.armed.delay if self.fake.armed else 0, self.fake.fire).start()
        if armed:
            if not self.fake.fired.wait(self.quiet_timeout):
                raise AssertionError(f"kill point {armed[0]} never came; logs in {self.workdir}")
            self.fake.disarm()
            self.note_window(result, index)
        self.restart_dead()
        self.wait_quiet()
        for _ in [t for t in timings if t == "after_reply"] + armed[1:]:
            self.kill_one()  # the turn is done: a kill now must change nothing
            self.note_window(result, index)
            self.restart_dead()
            self.wait_quiet()
        self.fake.disarm()


def _content(message: SentMessage) -> tuple[str, str]:
    return message.kind, message.plain_text or ""


def stored_rows(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows as comparable tuples: without ids and timestamps."""
    database = make_engine(database_url)
    metadata = MetaData()
    metadata.reflect(database)
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with Session(database) as session:
        for name, table in sorted(metadata.tables.items()):
            if name in _MACHINERY:
                continue
            columns = [
                column
                for column in table.columns
                if column.name != "id"
                and not column.name.endswith("_id")
                and not (column.name.endswith("_at") and column.name != "due_at")
                and column.name not in ("dedup_key", "data", "version", "updated")
            ]
            values = session.execute(select(*columns)).all()
            rows[name] = sorted(
                (tuple(_comparable(value) for value in row) for row in values), key=repr
            )
    database.dispose()
    return rows


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()[:16]  # to the minute: a due time, not a write time
    return value


# ----- Telegram's side of webhook mode --------------------------------------------------


class WebhookPoster:
    """Telegram posting updates to the webhook processes: to one, then (on any failure,
    a kill included) to the other, until one answers 200; now and then twice."""

    def __init__(self, fake: FakeTelegram, ports: list[int]) -> None:
        self.fake = fake
        self.ports = ports
        self.delivered: set[int] = set()
        self.last = 0
        self.rng = random.Random(11)

    @property
    def undelivered(self) -> list[dict[str, Any]]:
        return [u for u in self.fake.pending_updates if u["update_id"] not in self.delivered]

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + 60
        for port in self.ports:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise AssertionError("a webhook process did not become healthy")
                time.sleep(0.1)

    def deliver_pending(self) -> None:
        for update in self.undelivered:
            self._deliver(update)

    def _deliver(self, update: dict[str, Any]) -> None:
        start = self.rng.randrange(len(self.ports))
        for attempt in range(40):
            index = (start + attempt) % len(self.ports)
            self.last = index
            if self._post(index, update):
                self.delivered.add(update["update_id"])
                if self.rng.random() < 0.2:  # a re-delivery to the other process
                    other = (index + 1) % len(self.ports)
                    self._post(other, update)
                return
            time.sleep(0.1)
        raise AssertionError(f"update {update['update_id']} could not be delivered")

    def _post(self, index: int, update: dict[str, Any]) -> bool:
        try:
            response = httpx.post(
                f"http://127.0.0.1:{self.ports[index]}/tg/hook",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                timeout=10,
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200
