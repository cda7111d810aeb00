"""Everything stored about one user: exporting it, and forgetting it.

Forgetting deletes what is personal (names, free text, contacts, reminders,
conversation state) and keeps anonymous rows, stripped of text, so team
statistics still count what happened.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, SQLModel, col, select

from storage.models import (
    Account,
    Assignment,
    Comment,
    Contact,
    Debrief,
    Drill,
    FollowUp,
    InviteFailure,
    Membership,
    Need,
    ObjectionLabel,
    ObjectionLog,
    Opportunity,
    OpportunityChange,
    ProbePlan,
    Reminder,
    TrioRound,
    User,
    Visit,
)

# Tables holding a user's rows, with the column naming the user.
OWNED: tuple[tuple[type[SQLModel], str], ...] = (
    (Membership, "user_id"),
    (Account, "owner_id"),
    (Visit, "owner_id"),
    (ProbePlan, "owner_id"),
    (Need, "owner_id"),
    (ObjectionLog, "owner_id"),
    (ObjectionLabel, "owner_id"),
    (Debrief, "owner_id"),
    (FollowUp, "owner_id"),
    (Reminder, "user_id"),
    (Drill, "user_id"),
    (Assignment, "user_id"),
    (Comment, "author_id"),
    (TrioRound, "rep_id"),  # role-play in threes: the observer's form on the person
    (Opportunity, "owner_id"),
    (OpportunityChange, "changed_by"),
)


def export_user(session: Session, user_id: int) -> dict[str, Any]:
    """A JSON-ready dump of every row about the user, table by table."""
    user = session.get(User, user_id)
    assert user is not None
    dump: dict[str, Any] = {"user": user.model_dump(mode="json")}
    for model, column in OWNED:
        rows = session.exec(select(model).where(getattr(model, column) == user_id))
        dump[str(model.__tablename__)] = [row.model_dump(mode="json") for row in rows]
    account_ids = [row["id"] for row in dump["accounts"]]
    contacts = session.exec(select(Contact).where(col(Contact.account_id).in_(account_ids)))
    dump["contacts"] = [row.model_dump(mode="json") for row in contacts]
    debrief_ids = [row["id"] for row in dump["debriefs"]]
    received = session.exec(select(Comment).where(col(Comment.debrief_id).in_(debrief_ids)))
    dump["comments_on_your_debriefs"] = [row.model_dump(mode="json") for row in received]
    return dump


def forget_user(session: Session, user_id: int) -> None:
    """Delete the user's personal data; keep anonymous, text-free rows for team counts.

    The conversation state row is left to the caller, which clears it in the
    same transaction.
    """
    account_ids = list(session.exec(select(Account.id).where(Account.owner_id == user_id)))
    _delete_personal_rows(session, user_id, account_ids)
    _strip_text(session, user_id, account_ids)
    session.execute(
        update(User)
        .where(col(User.id) == user_id)
        .values(
            display_name="",
            platform_user_id=f"forgotten:{user_id}",
            active=False,
            onboarded_at=None,
        )
    )


def _delete_personal_rows(session: Session, user_id: int, account_ids: list[int | None]) -> None:
    session.execute(delete(Reminder).where(col(Reminder.user_id) == user_id))
    session.execute(delete(InviteFailure).where(col(InviteFailure.user_id) == user_id))
    session.execute(delete(Comment).where(col(Comment.author_id) == user_id))
    session.execute(delete(Need).where(col(Need.owner_id) == user_id))
    session.execute(delete(ObjectionLabel).where(col(ObjectionLabel.owner_id) == user_id))
    session.execute(update(Visit).where(col(Visit.owner_id) == user_id).values(contact_id=None))
    session.execute(delete(Contact).where(col(Contact.account_id).in_(account_ids)))
    session.execute(delete(FollowUp).where(col(FollowUp.owner_id) == user_id))


def _strip_text(session: Session, user_id: int, account_ids: list[int | None]) -> None:
    session.execute(update(Account).where(col(Account.id).in_(account_ids)).values(name="—"))
    session.execute(
        update(Visit)
        .where(col(Visit.owner_id) == user_id)
        .values(contact_name=None, objective=None, customer_action=None, questions=[],
                objections=[], proof=[], next_hook=None)
    )  # fmt: skip
    session.execute(
        update(ProbePlan).where(col(ProbePlan.owner_id) == user_id).values(questions=[])
    )
    session.execute(
        update(ObjectionLog)
        .where(col(ObjectionLog.owner_id) == user_id)
        .values(customer_words=None, response=None)
    )
    session.execute(
        update(Debrief)
        .where(col(Debrief.owner_id) == user_id)
        .values(feelings=None, objective=None, plan=None, happened=None, why_customer=None,
                went_best=None, improve=None, next_step=None)
    )  # fmt: skip
    session.execute(update(Drill).where(col(Drill.user_id) == user_id).values(transcript=[]))
    # Observers' comments are free text about the rep, or written by the person observing.
    for column in (col(TrioRound.rep_id), col(TrioRound.observer_id)):
        session.execute(update(TrioRound).where(column == user_id).values(comments={}))
