"""Flood control: a user who sends too much too fast is told once to slow down, then ignored.

Why: every update costs a database transaction, and a stuck key or a script hammering
the bot would otherwise queue hundreds of them behind that user's per-user lock. Other
users are unaffected either way (their updates run under their own locks); this bounds
the work one user can cause.

Two parts:

* `FloodGate` — pure bookkeeping, a sliding window per user with an injectable clock,
  unit-tested without Telegram.
* `flood_handler` — a PTB handler for group -1 that asks the gate about every update and
  stops dropped ones with `ApplicationHandlerStop` before any dialog handler sees them.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from telegram import CallbackQuery, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes, TypeHandler

from dialogs.core.texts import Texts
from playbooks.locales import language_for

log = logging.getLogger(__name__)

# Telegram itself allows a private chat about one message a second; 20 in 10 s leaves
# room for quick button presses while catching scripts and stuck keys.
DEFAULT_LIMIT = 20
DEFAULT_WINDOW = 10.0
# Runs before the dialog handlers in group 0, so dropped updates never reach them.
FLOOD_GROUP = -1
# Where build_application keeps the gate in bot_data (absent when flood control is off).
FLOOD_KEY = "flood_gate"


class Verdict(Enum):
    """What to do with one update."""

    ALLOW = "allow"
    WARN = "warn"  # the first dropped update of a flood: drop it and tell the user once
    DROP = "drop"


@dataclass
class _History:
    # Only the newest limit + 1 arrival times matter: "more than `limit` in the window"
    # holds exactly when the oldest of them is still inside it. That caps memory per user.
    times: deque[float]
    warned: bool = False


@dataclass
class FloodGate:
    """A sliding window per user: more than `limit` updates within `window` seconds floods.

    Every update counts, dropped ones included, so a user who keeps hammering stays
    dropped until they pause; the window then clears by itself. They are warned once
    per flood: the warning is re-armed by the next update that gets through.
    """

    limit: int = DEFAULT_LIMIT
    window: float = DEFAULT_WINDOW
    clock: Callable[[], float] = time.monotonic
    _users: dict[int, _History] = field(default_factory=dict, init=False, repr=False)
    _next_sweep: float = field(default=float("-inf"), init=False, repr=False)

    def check(self, user_id: int) -> Verdict:
        """Record an update from `user_id` now and say whether to handle it."""
        now = self.clock()
        self._sweep(now)
        history = self._users.get(user_id)
        if history is None:
            history = self._users[user_id] = _History(deque(maxlen=self.limit + 1))
        history.times.append(now)
        flooding = len(history.times) > self.limit and history.times[0] > now - self.window
        if not flooding:
            history.warned = False
            return Verdict.ALLOW
        if history.warned:
            return Verdict.DROP
        history.warned = True
        return Verdict.WARN

    def tracked_users(self) -> int:
        """How many users the gate remembers (quiet ones are forgotten)."""
        return len(self._users)

    def _sweep(self, now: float) -> None:
        # Forget users quiet for a whole window, at most once per window, so memory
        # follows the number of recently active users, not of all users ever seen.
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.window
        cutoff = now - self.window
        quiet = [user for user, history in self._users.items() if history.times[-1] <= cutoff]
        for user in quiet:
            del self._users[user]


class FloodControl:
    """The Telegram side of the gate: warn once, answer button presses, stop the update."""

    def __init__(self, gate: FloodGate) -> None:
        self.gate = gate

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Let the update through, or raise ApplicationHandlerStop to drop it."""
        user = update.effective_user
        if user is None or user.is_bot:
            return
        verdict = self.gate.check(user.id)
        if verdict is Verdict.ALLOW:
            return
        log.info("flood control: dropping update %s from user %s", update.update_id, user.id)
        text = Texts(language_for(user.language_code))("common.slow_down")
        if verdict is Verdict.WARN:
            await _warn(update, context, text)
        if update.callback_query is not None:
            await _answer(update.callback_query)
        raise ApplicationHandlerStop


async def _warn(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    try:
        await context.bot.send_message(chat.id, text, parse_mode=ParseMode.HTML)
    except TelegramError as error:
        # The update is dropped whether or not the warning got through.
        log.warning("could not send the slow-down notice: %s", type(error).__name__)


async def _answer(query: CallbackQuery) -> None:
    # An unanswered callback query leaves the button spinning in the user's client.
    try:
        await query.answer()
    except TelegramError as error:
        log.warning("could not answer a dropped button press: %s", type(error).__name__)


FloodHandler = TypeHandler[Update, ContextTypes.DEFAULT_TYPE, None]


def flood_handler(gate: FloodGate) -> FloodHandler:
    """A handler for every update, to be added in `FLOOD_GROUP`."""
    return TypeHandler(Update, FloodControl(gate))
