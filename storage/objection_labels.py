"""Objection types reps picked for their customers' words: recorded, read for training, counted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.models import ObjectionLabel


def record_label(
    session: Session,
    owner_id: int,
    text: str,
    label: str,
    *,
    predicted: str | None,
    confidence: float | None,
) -> ObjectionLabel:
    """Store the type a rep chose for `text`, beside what the coach had guessed."""
    row = ObjectionLabel(
        owner_id=owner_id, text=text, label=label, predicted=predicted, confidence=confidence
    )
    session.add(row)
    session.flush()
    return row


def training_lines(session: Session) -> list[tuple[str, str]]:
    """Every recorded (text, label), oldest first: the company's lines for the next training."""
    rows = session.exec(select(ObjectionLabel).order_by(col(ObjectionLabel.id)))
    return [(row.text, row.label) for row in rows if row.text.strip()]


def corrections(
    session: Session, owner_ids: Sequence[int], since: datetime, until: datetime
) -> tuple[int, list[tuple[str, str, int]]]:
    """How many labels the owners recorded in [since, until), and the corrections among them.

    A correction is a label that differs from the coach's guess, counted per
    (guessed, chosen) pair, most frequent first.
    """
    window = (
        col(ObjectionLabel.owner_id).in_(list(owner_ids)),
        col(ObjectionLabel.created_at) >= since,
        col(ObjectionLabel.created_at) < until,
    )
    total = session.exec(select(func.count()).select_from(ObjectionLabel).where(*window)).one()
    pairs = session.exec(
        select(ObjectionLabel.predicted, ObjectionLabel.label, func.count())
        .where(*window, col(ObjectionLabel.predicted).is_not(None))
        .where(col(ObjectionLabel.predicted) != col(ObjectionLabel.label))
        .group_by(col(ObjectionLabel.predicted), col(ObjectionLabel.label))
        .order_by(func.count().desc(), col(ObjectionLabel.predicted))
    ).all()
    return int(total), [(str(guess), str(chosen), int(count)) for guess, chosen, count in pairs]
