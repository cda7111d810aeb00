"""Queries about objections reps met: logging one, and the team's responses that worked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, or_, select

from storage.models import Membership, ObjectionLog, User

WORKED = "worked"
OUTCOMES = (WORKED, "partly", "failed")


@dataclass(frozen=True)
class BestResponse:
    """A recorded answer to an objection that worked, and who gave it."""

    response: str
    customer_words: str | None
    author: str
    created_at: datetime


def log_objection(
    session: Session,
    owner_id: int,
    objection_type: str,
    *,
    customer_words: str | None = None,
    confidence: float | None = None,
    response: str | None = None,
    outcome: str | None = None,
    account_id: int | None = None,
) -> ObjectionLog:
    """Store one objection, the rep's answer to it and how that went."""
    if outcome is not None and outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    entry = ObjectionLog(
        owner_id=owner_id,
        account_id=account_id,
        customer_words=customer_words,
        objection_type=objection_type,
        confidence=confidence,
        response=response,
        outcome=outcome,
    )
    session.add(entry)
    session.flush()
    return entry


def best_responses(
    session: Session, user_id: int, objection_type: str, limit: int = 3
) -> list[BestResponse]:
    """Newest answers that worked against this type, from the user's teammates or the user.

    Teammates are everyone sharing a team with the user (managers included); a
    user without a team sees only their own. One query, whatever the team size.
    """
    mine = aliased(Membership)
    theirs = aliased(Membership)
    my_teams = select(mine.team_id).where(mine.user_id == user_id)
    teammates = select(theirs.user_id).where(col(theirs.team_id).in_(my_teams))
    statement = (
        select(ObjectionLog, User.display_name)
        .join(User, col(User.id) == col(ObjectionLog.owner_id))
        .where(
            ObjectionLog.objection_type == objection_type,
            ObjectionLog.outcome == WORKED,
            col(ObjectionLog.response).is_not(None),
            or_(ObjectionLog.owner_id == user_id, col(ObjectionLog.owner_id).in_(teammates)),
        )
        .order_by(col(ObjectionLog.created_at).desc(), col(ObjectionLog.id).desc())
        .limit(limit)
    )
    return [
        BestResponse(
            response=entry.response or "",
            customer_words=entry.customer_words,
            author=name,
            created_at=entry.created_at,
        )
        for entry, name in session.exec(statement)
    ]
