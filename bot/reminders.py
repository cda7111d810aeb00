"""The reminder dispatcher: claims due rows, composes them, delivers them, records the outcome.

APScheduler (through PTB's JobQueue) only wakes it; the database is the
source of truth, so a restart loses nothing and a reminder claimed by one
process is never sent by another.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session

from bot.sending import broadcast_lane
from dialogs.core.engine import Engine
from dialogs.core.io import Outgoing
from dialogs.core.timezones import zone_for
from dialogs.field.reminder_messages import LATE_AFTER, compose
from dialogs.users.quiet_hours import quiet_until
from storage.db import transaction
from storage.models import Reminder, User
from storage.outbox import BROADCAST
from storage.reminders import (
    CANCELLED,
    claim_due,
    expire_stuck,
    mark_failed,
    mark_sent,
    release,
)

if TYPE_CHECKING:  # bot.outbox imports this module's errors
    from bot.outbox import OutboxSender

log = logging.getLogger(__name__)


class DeliveryBlocked(Exception):
    """The user blocked the bot: stop writing to them."""


class DeliveryRetry(Exception):
    """A temporary failure (rate limit, 5xx, timeout): try again later."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class DeliveryFailed(Exception):
    """A permanent failure: retrying would not help."""


Deliver = Callable[[User, Outgoing], Awaitable[None]]


@dataclass(frozen=True)
class DispatchConfig:
    """Batch size, the "sending" lease, retry limits and per-chat pacing."""

    batch: int = 500
    lease: timedelta = timedelta(minutes=5)
    max_attempts: int = 5
    per_chat_interval: float = 1.0  # Telegram asks for about one message per second per chat
    concurrency: int = 64


@dataclass(frozen=True)
class Prepared:
    """A claimed reminder ready to send."""

    reminder_id: int
    user: User
    message: Outgoing


class Dispatcher:
    """Delivers due reminders of one platform's users."""

    def __init__(
        self,
        engine: Engine,
        platform: str,
        deliver: Deliver,
        config: DispatchConfig | None = None,
        *,
        outbox: OutboxSender | None = None,
    ) -> None:
        self.engine = engine
        self.platform = platform
        self.deliver = deliver
        self.config = config or DispatchConfig()
        # With an outbox, a reminder is queued there and marked sent in one transaction; the
        # outbox sends it (and after a crash, still sends it). Without one (the terminal),
        # `deliver` sends it directly.
        self.outbox = outbox
        self._busy = asyncio.Lock()

    async def run_once(self) -> int:
        """Deliver what is due now; returns how many were sent. Overlapping runs are skipped."""
        if self._busy.locked():
            return 0
        async with self._busy:
            claimed = await asyncio.to_thread(self._claim)
            if not claimed:
                return 0
            by_user: dict[int, list[int]] = defaultdict(list)
            for reminder_id, user_id in claimed:
                by_user[user_id].append(reminder_id)
            limit = asyncio.Semaphore(self.config.concurrency)
            results = await asyncio.gather(
                *(self._deliver_to_user(ids, limit) for ids in by_user.values())
            )
            return sum(results)

    def _claim(self) -> list[tuple[int, int]]:
        now = self.engine.clock()
        with transaction(self.engine.database) as session:
            expired = expire_stuck(session, now, self.config.lease)
            if expired:
                log.warning("%d reminder(s) left mid-delivery were marked unknown", expired)
            ids = claim_due(session, now, self.config.batch, self.platform)
            if not ids:
                return []
            reminders = [session.get(Reminder, reminder_id) for reminder_id in ids]
            return [(r.id or 0, r.user_id) for r in reminders if r is not None]

    async def _deliver_to_user(self, reminder_ids: list[int], limit: asyncio.Semaphore) -> int:
        sent = 0
        for index, reminder_id in enumerate(reminder_ids):
            if index:
                await asyncio.sleep(self.config.per_chat_interval)
            async with limit:
                sent += await self._deliver_one(reminder_id)
        return sent

    async def _deliver_one(self, reminder_id: int) -> int:
        if self.outbox is not None:
            return await self._queue_one(reminder_id, self.outbox)
        prepared = await asyncio.to_thread(self._prepare, reminder_id)
        if prepared is None:
            return 0
        try:
            with broadcast_lane():  # behind replies to people's input (bot/sending.py)
                await self.deliver(prepared.user, prepared.message)
        except DeliveryBlocked:
            await asyncio.to_thread(self._record_blocked, reminder_id)
        except DeliveryRetry as error:
            await asyncio.to_thread(self._record_retry, reminder_id, error)
        except DeliveryFailed as error:
            await asyncio.to_thread(self._record_failed, reminder_id, str(error))
        except Exception as error:  # never let one reminder stop the others
            log.exception("reminder %s: unexpected delivery error", reminder_id)
            await asyncio.to_thread(self._record_retry, reminder_id, DeliveryRetry(repr(error)))
        else:
            await asyncio.to_thread(self._record_sent, reminder_id)
            return 1
        return 0

    async def _queue_one(self, reminder_id: int, outbox: OutboxSender) -> int:
        chat_id = await asyncio.to_thread(self._queue, reminder_id, outbox)
        if chat_id is None:
            return 0
        await outbox.flush(chat_id, BROADCAST)  # behind replies to people (bot/sending.py)
        return 1

    def _queue(self, reminder_id: int, outbox: OutboxSender) -> str | None:
        """Compose the reminder into the outbox and mark it sent, together; the chat's id."""
        with transaction(self.engine.database) as session:
            prepared = self._compose(session, reminder_id)
            if prepared is None:
                return None
            chat_id = prepared.user.platform_user_id
            outbox.queue(session, chat_id, prepared.message, reminder_id=reminder_id)
            reminder = session.get(Reminder, reminder_id)
            assert reminder is not None
            mark_sent(session, reminder, self.engine.clock())
            return chat_id

    def _prepare(self, reminder_id: int) -> Prepared | None:
        with transaction(self.engine.database) as session:
            prepared = self._compose(session, reminder_id)
            if prepared is not None:
                session.expunge(prepared.user)
            return prepared

    def _compose(self, session: Session, reminder_id: int) -> Prepared | None:
        """The reminder's message, or None when it is not to be sent now (and why is recorded)."""
        now = self.engine.clock()
        reminder = session.get(Reminder, reminder_id)
        user = session.get(User, reminder.user_id) if reminder else None
        if reminder is None or user is None:
            return None
        if not user.active:
            mark_failed(session, reminder, "the user blocked the bot")
            return None
        quiet_end = quiet_until(now, zone_for(user.timezone), user.quiet_start, user.quiet_end)
        if quiet_end is not None:
            release(session, reminder, quiet_end, None)
            return None
        reminder.late = now - reminder.due_at > LATE_AFTER
        message = compose(self.engine.context_for(session, user), reminder)
        if message is None:  # the follow-up was done, the visit cancelled…
            reminder.status = CANCELLED
            session.add(reminder)
            return None
        return Prepared(reminder_id, user, message)

    def _record_sent(self, reminder_id: int) -> None:
        with transaction(self.engine.database) as session:
            reminder = session.get(Reminder, reminder_id)
            if reminder is not None:
                mark_sent(session, reminder, self.engine.clock())

    def _record_blocked(self, reminder_id: int) -> None:
        with transaction(self.engine.database) as session:
            reminder = session.get(Reminder, reminder_id)
            if reminder is None:
                return
            user = session.get(User, reminder.user_id)
            if user is not None:
                user.active = False
                session.add(user)
            mark_failed(session, reminder, "the user blocked the bot")
            log.info("user %s blocked the bot; reminders to them stop", reminder.user_id)

    def _record_retry(self, reminder_id: int, error: DeliveryRetry) -> None:
        now = self.engine.clock()
        with transaction(self.engine.database) as session:
            reminder = session.get(Reminder, reminder_id)
            if reminder is None:
                return
            reminder.attempts += 1
            if reminder.attempts >= self.config.max_attempts:
                mark_failed(session, reminder, str(error))
                log.warning("reminder %s failed after %d attempts", reminder_id, reminder.attempts)
                return
            backoff = error.after if error.after is not None else 2.0**reminder.attempts
            release(session, reminder, now + timedelta(seconds=backoff), str(error))

    def _record_failed(self, reminder_id: int, error: str) -> None:
        with transaction(self.engine.database) as session:
            reminder = session.get(Reminder, reminder_id)
            if reminder is not None:
                mark_failed(session, reminder, error)
