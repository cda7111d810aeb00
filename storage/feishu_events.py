"""Feishu / Lark event ids taken in: Feishu re-delivers an event it thinks was missed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine as Database
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete

from storage.db import transaction
from storage.models import FeishuEvent


def claim_event(database: Database, event_id: str) -> bool:
    """Record `event_id` as taken in; False when it already was (a re-delivery)."""
    try:
        with transaction(database) as session:
            session.add(FeishuEvent(event_id=event_id))
    except IntegrityError:
        # The primary key exists: this process or another one took the event in.
        return False
    return True


def prune_events(database: Database, before: datetime) -> int:
    """Forget event ids taken in before `before`; returns how many were removed."""
    with transaction(database) as session:
        result = session.exec(delete(FeishuEvent).where(col(FeishuEvent.received_at) < before))
        return int(result.rowcount or 0)
