"""Queries for post-visit debriefs and the day's agenda; every read is scoped to the owning rep."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.sql.expression import Exists
from sqlmodel import Session, col, exists, or_, select

from storage.models import Debrief, FollowUp, ObjectionLog, Visit

CANCELLED = "cancelled"
DONE = "done"
OPEN = "open"


def _has_debrief() -> Exists:
    return exists().where(col(Debrief.visit_id) == col(Visit.id))


def visits_awaiting_debrief(
    session: Session, owner_id: int, since: datetime, until: datetime, limit: int = 8
) -> list[Visit]:
    """The rep's visits planned in [since, until) that have no debrief yet, newest first."""
    statement = (
        select(Visit)
        .where(
            Visit.owner_id == owner_id,
            Visit.status != CANCELLED,
            col(Visit.planned_at) >= since,
            col(Visit.planned_at) < until,
            ~_has_debrief(),
        )
        .order_by(col(Visit.planned_at).desc(), col(Visit.id).desc())
        .limit(limit)
    )
    return list(session.exec(statement))


def visit_awaiting_debrief(session: Session, owner_id: int, visit_id: int) -> Visit | None:
    """The visit, only if it is the rep's own, not cancelled, and not yet debriefed."""
    visit = session.get(Visit, visit_id)
    if visit is None or visit.owner_id != owner_id or visit.status == CANCELLED:
        return None
    return None if has_debrief(session, visit_id) else visit


def has_debrief(session: Session, visit_id: int) -> bool:
    """Whether the visit already has a debrief."""
    statement = select(Debrief.id).where(Debrief.visit_id == visit_id)
    return session.exec(statement).first() is not None


def debriefed_visit_ids(session: Session, visit_ids: Iterable[int]) -> set[int]:
    """Which of these visits have a debrief."""
    wanted = list(visit_ids)
    if not wanted:
        return set()
    statement = select(Debrief.visit_id).where(col(Debrief.visit_id).in_(wanted))
    return {visit_id for visit_id in session.exec(statement) if visit_id is not None}


def last_debrief(
    session: Session, owner_id: int, account_id: int, *, excluding_visit: int | None = None
) -> Debrief | None:
    """The rep's latest debrief on the account (not the one of `excluding_visit`)."""
    statement = select(Debrief).where(
        Debrief.owner_id == owner_id, Debrief.account_id == account_id
    )
    if excluding_visit is not None:
        statement = statement.where(
            or_(col(Debrief.visit_id).is_(None), col(Debrief.visit_id) != excluding_visit)
        )
    statement = statement.order_by(col(Debrief.created_at).desc(), col(Debrief.id).desc())
    return session.exec(statement.limit(1)).first()


def add_debrief(session: Session, debrief: Debrief) -> Debrief:
    """Stage a debrief in the surrounding transaction and give it its id."""
    session.add(debrief)
    session.flush()
    return debrief


def add_follow_up(session: Session, follow_up: FollowUp) -> FollowUp:
    """Stage a follow-up in the surrounding transaction and give it its id."""
    session.add(follow_up)
    session.flush()
    return follow_up


def mark_visit_done(session: Session, visit: Visit, when: datetime) -> None:
    """The visit took place; keep an earlier done time if one was recorded."""
    visit.status = DONE
    visit.done_at = visit.done_at or when
    session.add(visit)


def objections_met(
    session: Session,
    owner_id: int,
    *,
    visit_id: int | None,
    account_id: int | None,
    since: datetime,
) -> list[ObjectionLog]:
    """Objections the rep logged for this visit, or on this account since `since`, newest first."""
    conditions = []
    if visit_id is not None:
        conditions.append(col(ObjectionLog.visit_id) == visit_id)
    if account_id is not None:
        conditions.append(
            (col(ObjectionLog.account_id) == account_id) & (col(ObjectionLog.created_at) >= since)
        )
    if not conditions:
        return []
    statement = (
        select(ObjectionLog)
        .where(ObjectionLog.owner_id == owner_id, or_(*conditions))
        .order_by(col(ObjectionLog.created_at).desc(), col(ObjectionLog.id).desc())
    )
    return list(session.exec(statement))


# ----- the day's agenda ---------------------------------------------------------------


def visits_between(session: Session, owner_id: int, start: datetime, end: datetime) -> list[Visit]:
    """The rep's visits (not cancelled) planned in [start, end), soonest first."""
    statement = (
        select(Visit)
        .where(
            Visit.owner_id == owner_id,
            Visit.status != CANCELLED,
            col(Visit.planned_at) >= start,
            col(Visit.planned_at) < end,
        )
        .order_by(col(Visit.planned_at), col(Visit.id))
    )
    return list(session.exec(statement))


def follow_ups_due_before(
    session: Session, owner_id: int, end: datetime, limit: int = 20
) -> list[FollowUp]:
    """The rep's open follow-ups due before `end` (overdue ones included), soonest first."""
    statement = (
        select(FollowUp)
        .where(
            FollowUp.owner_id == owner_id,
            FollowUp.status == OPEN,
            col(FollowUp.due_at) < end,
        )
        .order_by(col(FollowUp.due_at), col(FollowUp.id))
        .limit(limit)
    )
    return list(session.exec(statement))
