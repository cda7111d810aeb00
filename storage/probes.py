"""Queries about SPIN probing: question plans for an account and the needs heard in meetings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from storage.models import Need, ProbePlan


@dataclass(frozen=True)
class HeardNeed:
    """A need as the rep recorded it after a meeting."""

    text: str
    kind: str  # implied | explicit
    implication_asked: bool
    need_payoff_asked: bool


def save_plan(
    session: Session, owner_id: int, account_id: int, questions: Sequence[dict[str, Any]]
) -> ProbePlan:
    """Store a question plan: each question's stage, direction, text and bank id (or None)."""
    plan = ProbePlan(owner_id=owner_id, account_id=account_id, questions=list(questions))
    session.add(plan)
    session.flush()
    return plan


def latest_plan(session: Session, owner_id: int, account_id: int) -> ProbePlan | None:
    """The rep's most recent plan for the account."""
    statement = (
        select(ProbePlan)
        .where(ProbePlan.owner_id == owner_id, ProbePlan.account_id == account_id)
        .order_by(col(ProbePlan.created_at).desc(), col(ProbePlan.id).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def add_needs(
    session: Session,
    owner_id: int,
    account_id: int,
    needs: Sequence[HeardNeed],
    probe_id: int | None = None,
) -> list[Need]:
    """Store the needs heard in one meeting, in the order they were told."""
    rows = [
        Need(
            owner_id=owner_id,
            account_id=account_id,
            probe_id=probe_id,
            text=need.text,
            kind=need.kind,
            implication_asked=need.implication_asked,
            need_payoff_asked=need.need_payoff_asked,
        )
        for need in needs
    ]
    session.add_all(rows)
    session.flush()
    return rows


def needs_of(session: Session, owner_id: int, account_id: int, limit: int = 100) -> list[Need]:
    """The rep's recorded needs for the account, oldest first (the latest `limit` of them)."""
    statement = (
        select(Need)
        .where(Need.owner_id == owner_id, Need.account_id == account_id)
        .order_by(col(Need.created_at).desc(), col(Need.id).desc())
        .limit(limit)
    )
    return list(reversed(session.exec(statement).all()))
