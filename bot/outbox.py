"""Sending what the outbox holds: each chat's messages in order, each marked once sent.

Turns, the reminder dispatcher and the digest sender only queue messages
(`queue_message`, inside their own transaction); `OutboxSender` sends them
through a `Transport`. After a crash the unsent rows are still there and go
out at the next flush, in order, so a question is never left unsent and a
half-sent digest is finished.

What can still repeat: a message the platform accepted just before the
process died, before its row was marked sent. Its row is unsent, so it goes
again after the restart (bench/kill_bench.py measures this window).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine as Database
from sqlmodel import Session

from bot.reminders import DeliveryBlocked, DeliveryFailed, DeliveryRetry
from bot.sending import broadcast_lane
from bot.transport import Transport
from dialogs.core.io import Button, Outgoing
from storage.db import run_transaction, transaction
from storage.models import utcnow
from storage.outbox import (
    BROADCAST,
    INTERACTIVE,
    Claimed,
    add_message,
    chats_waiting,
    claim_head,
    claimants,
    give_up,
    give_up_chat,
    mark_sent,
    release_claims,
    retry_later,
)
from storage.users import find_user

log = logging.getLogger(__name__)

__all__ = ["BROADCAST", "INTERACTIVE", "OutboxConfig", "OutboxSender", "queue_message"]


def worker_name(role: str) -> str:
    """Who claims outbox rows: the role, the host and the process id.

    Another process on the same host frees the claims of a dead one at once
    (`release_dead`); a claim from another host lasts its lease.
    """
    return f"{role}@{socket.gethostname()}:{os.getpid()}"[:128]


def _dead_here(worker: str) -> bool:
    """Whether `worker` names a process of this host that no longer runs."""
    _role, _, place = worker.rpartition("@")
    host, _, pid = place.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def encode(outgoing: Outgoing, *, edit_message_id: str | None = None) -> str:
    """An `Outgoing` as the outbox stores it (JSON; attachments in base64)."""
    return json.dumps(
        {
            "text": outgoing.text,
            "buttons": [[[b.label, b.data] for b in row] for row in outgoing.buttons],
            "attachments": {
                name: base64.b64encode(content).decode("ascii")
                for name, content in outgoing.attachments.items()
            },
            "edit": edit_message_id,
        },
        ensure_ascii=False,
    )


def decode(payload: str) -> tuple[Outgoing, str | None]:
    """The stored message, and the message it replaces (if any)."""
    data: dict[str, Any] = json.loads(payload)
    outgoing = Outgoing(
        data["text"],
        buttons=[[Button(label, value) for label, value in row] for row in data["buttons"]],
        attachments={
            name: base64.b64decode(content) for name, content in data["attachments"].items()
        },
    )
    return outgoing, data.get("edit")


def queue_message(
    session: Session,
    platform: str,
    chat_id: str,
    outgoing: Outgoing,
    *,
    lane: str = INTERACTIVE,
    edit_message_id: str | None = None,
    reminder_id: int | None = None,
) -> int:
    """Queue one message in the caller's transaction; it is sent after the commit."""
    payload = encode(outgoing, edit_message_id=edit_message_id)
    return add_message(session, platform, chat_id, payload, lane, reminder_id)


@dataclass(frozen=True)
class OutboxConfig:
    """How long a claim holds, how often a failing message is tried, how many chats at once."""

    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 5
    concurrency: int = 64
    # Telegram asks for about one message a second per chat: a digest's text and chart, or
    # two reminders, are spaced so. Replies to a person's input are not (their own pace).
    per_chat_interval: float = 1.0


class OutboxSender:
    """Sends one platform's queued messages, chat by chat, in order."""

    def __init__(
        self,
        database: Database,
        transport: Transport,
        worker: str,
        config: OutboxConfig | None = None,
        *,
        clock: Callable[[], Any] = utcnow,
    ) -> None:
        self.database = database
        self.transport = transport
        self.platform = transport.platform
        self.worker = worker
        self.config = config or OutboxConfig()
        self.clock = clock
        self._chats: dict[tuple[str, str], asyncio.Lock] = {}
        self._users: dict[tuple[str, str], int] = {}  # flushes holding or awaiting each lock
        self._sweeping = asyncio.Lock()

    def queue(
        self,
        session: Session,
        chat_id: str,
        outgoing: Outgoing,
        *,
        lane: str = BROADCAST,
        reminder_id: int | None = None,
    ) -> int:
        """Queue a message the bot sends on its own (a reminder, a digest) in `session`."""
        return queue_message(
            session, self.platform, chat_id, outgoing, lane=lane, reminder_id=reminder_id
        )

    async def flush(self, chat_id: str, lane: str = INTERACTIVE) -> int:
        """Send the unsent messages of the chat's `lane`, oldest first; returns how many went.

        Replies (interactive) and reminders or digests (broadcast) are two queues: a
        reply never waits for a reminder still queued for its slot in the rate limiter.
        """
        key = (chat_id, lane)
        lock = self._chats.setdefault(key, asyncio.Lock())
        # Counted, not asked with lock.locked(): a waiter just woken doesn't hold the lock
        # yet, and dropping it then would let a new flush run alongside (the same message
        # claimed by both, sent twice).
        self._users[key] = self._users.get(key, 0) + 1
        sent = 0
        last_broadcast: float | None = None
        loop = asyncio.get_running_loop()
        try:
            async with lock:
                claimed = await asyncio.to_thread(self._claim, chat_id, lane)
                while claimed is not None:
                    if claimed.lane == BROADCAST and last_broadcast is not None:
                        # Counted from when the last one arrived, not from when it was sent:
                        # a send waits its turn in the rate limiter first.
                        wait = last_broadcast + self.config.per_chat_interval - loop.time()
                        await asyncio.sleep(max(0.0, wait))
                    outcome = await self._send(claimed)
                    if claimed.lane == BROADCAST:
                        last_broadcast = loop.time()
                    if outcome is None:
                        break  # to be tried again later (or nothing more can reach the chat)
                    if outcome:  # recorded as sent and the next one claimed, in one transaction
                        sent += 1
                        claimed = await asyncio.to_thread(
                            self._sent_then_claim, claimed.id, chat_id, lane
                        )
                    else:
                        claimed = await asyncio.to_thread(self._claim, chat_id, lane)
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._chats[key]
        return sent

    def release_dead(self) -> int:
        """Free the claims of this host's processes that died mid-send (after a crash)."""
        freed = 0
        with transaction(self.database) as session:
            for worker in claimants(session, self.clock()):
                if worker != self.worker and _dead_here(worker):
                    freed += release_claims(session, worker)
        if freed:
            log.info("took over %d message(s) a stopped process was sending", freed)
        return freed

    async def flush_all(self) -> int:
        """Every chat with something to send (after a restart, and for retries)."""
        if self._sweeping.locked():
            return 0
        async with self._sweeping:
            await asyncio.to_thread(self.release_dead)
            chats = await asyncio.to_thread(self._waiting)
            limit = asyncio.Semaphore(self.config.concurrency)

            async def one(chat_id: str, lane: str) -> int:
                async with limit:
                    return await self.flush(chat_id, lane)

            return sum(await asyncio.gather(*(one(chat_id, lane) for chat_id, lane in chats)))

    def _waiting(self) -> list[tuple[str, str]]:
        with Session(self.database) as session:
            return chats_waiting(session, self.platform, self.worker, self.clock())

    def _claim(self, chat_id: str, lane: str) -> Claimed | None:
        now = self.clock()
        return run_transaction(
            self.database,
            lambda session: claim_head(
                session, self.platform, chat_id, self.worker, now, self.config.lease, lane
            ),
        )

    def _sent_then_claim(self, message_id: int, chat_id: str, lane: str) -> Claimed | None:
        now = self.clock()

        def work(session: Session) -> Claimed | None:
            mark_sent(session, message_id, now)
            return claim_head(
                session, self.platform, chat_id, self.worker, now, self.config.lease, lane
            )

        return run_transaction(self.database, work)

    async def _send(self, claimed: Claimed) -> int | None:
        """Send one claimed message; 1 sent (not yet recorded: the caller does, with the next
        claim), 0 given up, None to stop this chat for now."""
        outgoing, edit = decode(claimed.payload)
        lane = broadcast_lane() if claimed.lane == BROADCAST else contextlib.nullcontext()
        try:
            with lane:
                if edit is None or not await self.transport.edit(claimed.chat_id, edit, outgoing):
                    await self.transport.send(claimed.chat_id, outgoing)
        except DeliveryBlocked:
            await asyncio.to_thread(self._record_blocked, claimed)
            return None
        except DeliveryRetry as error:
            # With the cause's traceback (the log set-up redacts the token in its URL).
            log.warning(
                "outbox message %s to chat %s: %s; trying again later",
                claimed.id,
                claimed.chat_id,
                error,
                exc_info=error.__cause__ or error,
            )
            return await asyncio.to_thread(self._record_retry, claimed, error)
        except DeliveryFailed as error:
            log.warning(
                "outbox message %s to chat %s failed: %s", claimed.id, claimed.chat_id, error
            )
            await asyncio.to_thread(self._record, give_up, claimed.id, str(error))
            return 0
        except Exception as error:  # a bug must not stop the chat's other messages for good
            log.exception("outbox message %s: unexpected error", claimed.id)
            return await asyncio.to_thread(self._record_retry, claimed, DeliveryRetry(repr(error)))
        return 1

    def _record(self, change: Callable[..., object], *args: object) -> None:
        with transaction(self.database) as session:
            change(session, *args)

    def _record_retry(self, claimed: Claimed, error: DeliveryRetry) -> int | None:
        with transaction(self.database) as session:
            if claimed.attempts + 1 >= self.config.max_attempts:
                give_up(session, claimed.id, str(error))
                log.warning(
                    "outbox message %s given up after %d attempts", claimed.id, claimed.attempts + 1
                )
                return 0
            backoff = error.after if error.after is not None else 2.0**claimed.attempts
            retry_later(session, claimed.id, self.clock() + timedelta(seconds=backoff))
            return None

    def _record_blocked(self, claimed: Claimed) -> None:
        with transaction(self.database) as session:
            give_up_chat(session, self.platform, claimed.chat_id, "the user blocked the bot")
            user = find_user(session, self.platform, claimed.chat_id)
            if user is not None:
                user.active = False  # stop writing to them until they write again
                session.add(user)
        log.info("chat %s blocked the bot; its queued messages are dropped", claimed.chat_id)
