"""Queries about planned and past visits; every read is scoped to the owning rep."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import Visit

PLANNED = "planned"


def get_visit(session: Session, owner_id: int, visit_id: int) -> Visit | None:
    """The visit, only if it belongs to `owner_id` (ids typed by hand reveal nothing)."""
    visit = session.get(Visit, visit_id)
    return visit if visit is not None and visit.owner_id == owner_id else None


def upcoming_visits(
    session: Session, owner_id: int, since: datetime, limit: int = 10
) -> list[Visit]:
    """The rep's planned visits at or after `since` (UTC), soonest first."""
    statement = (
        select(Visit)
        .where(
            Visit.owner_id == owner_id,
            Visit.status == PLANNED,
            col(Visit.planned_at) >= since,
        )
        .order_by(col(Visit.planned_at), col(Visit.id))
        .limit(limit)
    )
    return list(session.exec(statement))


def add_visit(session: Session, visit: Visit) -> Visit:
    """Stage a new visit in the surrounding transaction and give it its id."""
    session.add(visit)
    session.flush()
    return visit
