"""Taking updates in durably, and processing them concurrently across users but strictly in
order per user."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine as Database
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from telegram import Bot, Update
from telegram.ext import BaseUpdateProcessor

from storage.db import run_transaction
from storage.inbox import Pending, pending_events, store_event
from storage.models import utcnow

log = logging.getLogger(__name__)


def _user_key(update: object) -> int | None:
    if isinstance(update, Update):
        if update.effective_user is not None:
            return update.effective_user.id
        if update.effective_chat is not None:
            return update.effective_chat.id
    return None


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """One lock per user: their updates run one after another, other users' in parallel.

    PTB starts update tasks in arrival order and asyncio locks are FIFO, so a
    user's updates are handled in the order Telegram delivered them.
    """

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}  # updates holding or awaiting each user's lock

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _user_key(update)
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        # Counted, not asked with lock.locked(): an update just woken doesn't hold the lock
        # yet, and dropping the lock then would let the user's next update overtake it.
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            # Forget idle users' locks so memory does not grow with the user count.
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


class InboxQueue(asyncio.Queue[object]):
    """PTB's update queue, storing each update in the inbox before it is queued.

    PTB's poller awaits `put` for every fetched update before it asks for the
    next batch, and only that next getUpdates call tells Telegram the batch
    arrived; webhook mode awaits `take_in` before answering 200. So an update
    is in the database before Telegram forgets it, and a crash loses nothing:
    the restart handles what the inbox holds and was not handled
    (`requeue_pending`). A re-delivered update (already stored) is dropped.
    """

    def __init__(self, database: Database, platform: str = "telegram") -> None:
        super().__init__()
        self.database = database
        self.platform = platform

    async def take_in(self, update: Update) -> bool:
        """Store and queue an update; False for a re-delivery. Database errors propagate."""
        payload = json.dumps(update.to_dict(), ensure_ascii=False)
        key = _user_key(update)
        stored = await asyncio.to_thread(
            run_transaction,
            self.database,
            lambda session: store_event(
                session,
                self.platform,
                str(update.update_id),
                str(key) if key is not None else "",
                payload,
            ),
        )
        if stored:
            await super().put(update)
        return stored

    async def put(self, item: object) -> None:
        """Queue an item; an update is stored first, waiting out a database outage (the
        poller does not confirm the batch meanwhile, so Telegram keeps it)."""
        if not isinstance(item, Update):
            await super().put(item)  # PTB's own signals
            return
        delay = 0.5
        while True:
            try:
                if not await self.take_in(item):
                    log.info(
                        "update %s was taken in before; dropped the re-delivery", item.update_id
                    )
                return
            except SQLAlchemyError as error:
                log.error("could not store update %s: %s", item.update_id, type(error).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def requeue_pending(self, bot: Bot, older_than: timedelta | None = None) -> int:
        """Queue the updates stored and not handled (by a process that died), oldest first;
        with `older_than`, only those waiting that long (another process may be on the rest).
        """
        before = utcnow() - older_than if older_than is not None else None
        pending = await asyncio.to_thread(self._pending, before)
        for event in pending:
            try:
                update = Update.de_json(json.loads(event.payload), bot)
            except (TypeError, ValueError, KeyError, AttributeError):
                log.warning("stored update %s could not be read back", event.event_id)
                continue
            if update is not None:
                await super().put(update)
        if pending:
            log.info("handling %d stored update(s) not yet handled", len(pending))
        return len(pending)

    def _pending(self, before: datetime | None) -> list[Pending]:
        with Session(self.database) as session:
            return pending_events(session, self.platform, received_before=before)
