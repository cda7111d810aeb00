"""The outbox: messages written in the transaction that decided them, sent in order, marked sent.

A turn's replies, reminders and digests are rows here before anything goes to
the platform, so a crash between deciding and sending loses nothing: the
unsent rows go out after a restart, in order. A chat has two queues, one per
lane: replies to the person (interactive) and what the bot sends on its own
(broadcast), so a reply never waits behind a reminder still waiting for its
slot. Only the head of a queue (its oldest unsent row) is ever claimed, so
each keeps its order even with several processes sending; a claim names its
sender and lasts a lease, after which another process may take the row over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, update
from sqlmodel import Session, col, select

from storage.models import OutboxMessage, Reminder, utcnow
from storage.reminders import FAILED

INTERACTIVE, BROADCAST = "interactive", "broadcast"


@dataclass(frozen=True)
class Claimed:
    """The head of a chat's queue, taken for sending."""

    id: int
    chat_id: str
    lane: str
    payload: str
    attempts: int


def add_message(
    session: Session,
    platform: str,
    chat_id: str,
    payload: str,
    lane: str,
    reminder_id: int | None = None,
) -> int:
    """Queue one message for a chat; returns its id (its place in the chat's order)."""
    row = OutboxMessage(
        platform=platform, chat_id=chat_id, payload=payload, lane=lane, reminder_id=reminder_id
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def _unsent() -> tuple[ColumnElement[bool], ...]:
    return (col(OutboxMessage.sent_at).is_(None), col(OutboxMessage.failed).is_(None))


def _claimable(worker: str, now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        or_(col(OutboxMessage.not_before).is_(None), col(OutboxMessage.not_before) <= now),
        or_(
            col(OutboxMessage.claimed_until).is_(None),
            col(OutboxMessage.claimed_until) < now,
            col(OutboxMessage.claimed_by) == worker,
        ),
    )


def claim_head(
    session: Session,
    platform: str,
    chat_id: str,
    worker: str,
    now: datetime,
    lease: timedelta,
    lane: str = INTERACTIVE,
) -> Claimed | None:
    """Take the oldest unsent message of the chat's `lane` for `worker`; None if there is none
    or it is taken (by another sender, or waiting for a retry)."""
    head = session.exec(
        select(OutboxMessage)
        .where(
            OutboxMessage.platform == platform,
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.lane == lane,
            *_unsent(),
        )
        .order_by(col(OutboxMessage.id))
        .limit(1)
    ).first()
    if head is None or head.id is None:
        return None
    result = session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == head.id, *_unsent(), *_claimable(worker, now))
        .values(claimed_by=worker, claimed_until=now + lease)
    )
    if result.rowcount != 1:
        return None
    return Claimed(head.id, head.chat_id, head.lane, head.payload, head.attempts)


def mark_sent(session: Session, message_id: int, at: datetime | None = None) -> None:
    """The platform accepted the message."""
    session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(sent_at=at or utcnow(), claimed_until=None)
    )


def retry_later(session: Session, message_id: int, not_before: datetime) -> int:
    """A temporary failure: try again from `not_before`; returns the attempts so far."""
    row = session.get(OutboxMessage, message_id)
    if row is None:
        return 0
    row.attempts += 1
    row.not_before = not_before
    row.claimed_until = None
    session.add(row)
    return row.attempts


def give_up(session: Session, message_id: int, reason: str) -> None:
    """A permanent failure: this message is not sent; the chat's next one may go."""
    row = session.get(OutboxMessage, message_id)
    if row is not None:
        _fail_reminders(session, [row], reason)
    session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(failed=reason[:200], claimed_until=None)
    )


def _fail_reminders(session: Session, rows: Sequence[OutboxMessage], reason: str) -> None:
    """A reminder counts as failed when the message carrying it can't be sent."""
    ids = [row.reminder_id for row in rows if row.reminder_id is not None]
    if ids:
        session.exec(
            update(Reminder)
            .where(col(Reminder.id).in_(ids))
            .values(status=FAILED, last_error=reason[:200])
        )


def give_up_chat(session: Session, platform: str, chat_id: str, reason: str) -> int:
    """Nothing more can reach this chat (the user blocked the bot): drop its unsent messages."""
    waiting = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.platform == platform, OutboxMessage.chat_id == chat_id, *_unsent()
        )
    ).all()
    _fail_reminders(session, waiting, reason)
    result = session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.platform) == platform,
            col(OutboxMessage.chat_id) == chat_id,
            *_unsent(),
        )
        .values(failed=reason[:200], claimed_until=None)
    )
    return int(result.rowcount or 0)


def claimants(session: Session, now: datetime) -> list[str]:
    """The senders holding a claim that has not run out."""
    rows = session.exec(
        select(OutboxMessage.claimed_by)
        .where(col(OutboxMessage.claimed_until) >= now, *_unsent())
        .distinct()
    ).all()
    return [row for row in rows if row is not None]


def release_claims(session: Session, worker: str) -> int:
    """Free every claim of `worker` (a sender known to be dead); returns how many."""
    result = session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.claimed_by) == worker, *_unsent())
        .values(claimed_until=None)
    )
    return int(result.rowcount or 0)


def chats_waiting(
    session: Session, platform: str, worker: str, now: datetime
) -> list[tuple[str, str]]:
    """(chat, lane) queues whose oldest unsent message `worker` may claim now, oldest first."""
    heads = (
        select(func.min(OutboxMessage.id).label("head"))
        .where(OutboxMessage.platform == platform, *_unsent())
        .group_by(col(OutboxMessage.chat_id), col(OutboxMessage.lane))
        .subquery()
    )
    rows = session.exec(
        select(OutboxMessage.chat_id, OutboxMessage.lane)
        .join(heads, col(OutboxMessage.id) == heads.c.head)
        .where(*_claimable(worker, now))
        .order_by(col(OutboxMessage.id))
    ).all()
    return [(chat_id, lane) for chat_id, lane in rows]


def unsent_count(session: Session, platform: str | None = None) -> int:
    """How many messages wait to be sent (all platforms when `platform` is None)."""
    query = select(func.count()).select_from(OutboxMessage).where(*_unsent())
    if platform is not None:
        query = query.where(OutboxMessage.platform == platform)
    return int(session.exec(query).one())


def prune_sent(session: Session, before: datetime) -> int:
    """Forget messages sent or given up before `before`; returns how many went."""
    rows = session.exec(
        select(OutboxMessage)
        .where(or_(col(OutboxMessage.sent_at).is_not(None), col(OutboxMessage.failed).is_not(None)))
        .where(col(OutboxMessage.created_at) < before)
    ).all()
    for row in rows:
        session.delete(row)
    return len(rows)
