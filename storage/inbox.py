"""The inbox: every update is stored before its platform is told it arrived, and handled once.

A platform re-delivers an update it was not told about, and may deliver one
twice (a webhook retry reaching another process): the unique (platform,
event_id) key recognises it. A turn marks its row handled in the same
transaction as the dialog state it changed, so after a crash an update is
either fully handled or still waiting here, never half of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import InboxEvent, utcnow


@dataclass(frozen=True)
class Pending:
    """An update received and not yet handled."""

    event_id: str
    user_key: str
    payload: str


def store_event(
    session: Session, platform: str, event_id: str, user_key: str, payload: str
) -> bool:
    """Store one received event; False when it was already stored (a re-delivery).

    Runs in a savepoint, so a duplicate leaves the surrounding transaction usable.
    """
    try:
        with session.begin_nested():
            session.add(
                InboxEvent(platform=platform, event_id=event_id, user_key=user_key, payload=payload)
            )
    except IntegrityError:
        return False
    return True


def mark_handled(
    session: Session, platform: str, event_id: str, at: datetime | None = None
) -> bool:
    """Mark an event handled; False when it already was (another turn handled it first).

    A conditional update: of two processes handling the same event, exactly one
    sees True, and the other rolls its turn back.
    """
    result = session.exec(
        update(InboxEvent)
        .where(col(InboxEvent.platform) == platform)
        .where(col(InboxEvent.event_id) == event_id)
        .where(col(InboxEvent.handled_at).is_(None))
        .values(handled_at=at or utcnow())
    )
    return bool(result.rowcount)


def is_handled(session: Session, platform: str, event_id: str) -> bool:
    """Whether an event was handled already (or was never stored)."""
    handled = session.exec(
        select(InboxEvent.handled_at)
        .where(InboxEvent.platform == platform)
        .where(InboxEvent.event_id == event_id)
    ).first()
    return handled is not None


def pending_events(session: Session, platform: str, limit: int = 10_000) -> list[Pending]:
    """Events received and not handled, oldest first (so each user's stay in order)."""
    rows = session.exec(
        select(InboxEvent)
        .where(InboxEvent.platform == platform)
        .where(col(InboxEvent.handled_at).is_(None))
        .order_by(col(InboxEvent.id))
        .limit(limit)
    ).all()
    return [Pending(row.event_id, row.user_key, row.payload) for row in rows]


def prune_handled(session: Session, before: datetime) -> int:
    """Forget handled events received before `before`; returns how many went."""
    rows = session.exec(
        select(InboxEvent)
        .where(col(InboxEvent.handled_at).is_not(None))
        .where(col(InboxEvent.received_at) < before)
    ).all()
    for row in rows:
        session.delete(row)
    return len(rows)


def claim_turn(session: Session, platform: str, event_id: str) -> bool:
    """Mark an event handled for the turn under way; False if a turn handled it already.

    An event that was never stored (handed in some other way) is the caller's to handle.
    """
    if mark_handled(session, platform, event_id):
        return True
    stored = session.exec(
        select(InboxEvent.id)
        .where(InboxEvent.platform == platform)
        .where(InboxEvent.event_id == event_id)
    ).first()
    return stored is None
