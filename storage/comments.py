"""A manager's reach into their teams: whom they may read, removing members, debriefs, comments.

Every check here asks the database, so an id typed by hand or carried by a
forged button is only honoured when the memberships allow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from storage.models import Account, Comment, Debrief, Membership, Team, User

MAX_RECENT_DEBRIEFS = 10


@dataclass(frozen=True)
class DebriefSummary:
    """A debrief in a list: when, which account, how it ended, how many comments."""

    debrief: Debrief
    account: str | None
    comments: int


@dataclass(frozen=True)
class CommentView:
    """A comment with its author's name."""

    comment: Comment
    author: str


def manages_team(session: Session, manager_id: int, team_id: int) -> bool:
    """True when the user is a manager of the team."""
    statement = select(Membership.id).where(
        Membership.team_id == team_id,
        Membership.user_id == manager_id,
        Membership.role == "manager",
    )
    return session.exec(statement).first() is not None


def team_of_member(session: Session, manager_id: int, member_id: int) -> Team | None:
    """A team the manager manages and the person is a member (not a manager) of, if any."""
    leader = aliased(Membership)
    follower = aliased(Membership)
    statement = (
        select(Team)
        .join(leader, col(leader.team_id) == col(Team.id))
        .join(follower, col(follower.team_id) == col(Team.id))
        .where(
            leader.user_id == manager_id,
            leader.role == "manager",
            follower.user_id == member_id,
            follower.role == "member",
        )
        .order_by(col(Team.id))
    )
    return session.exec(statement).first()


def is_member(session: Session, team_id: int, user_id: int) -> bool:
    """True when the user is a member (not a manager) of the team."""
    statement = select(Membership.id).where(
        Membership.team_id == team_id,
        Membership.user_id == user_id,
        Membership.role == "member",
    )
    return session.exec(statement).first() is not None


def remove_member(session: Session, team_id: int, user_id: int) -> bool:
    """Take a member out of the team; False when they were not in it (or are a manager)."""
    membership = session.exec(
        select(Membership).where(
            Membership.team_id == team_id,
            Membership.user_id == user_id,
            Membership.role == "member",
        )
    ).first()
    if membership is None:
        return False
    session.delete(membership)
    session.flush()
    return True


def recent_debriefs(
    session: Session, owner_id: int, limit: int = MAX_RECENT_DEBRIEFS
) -> list[DebriefSummary]:
    """The owner's newest debriefs, each with its account name and number of comments."""
    comments = (
        select(Comment.debrief_id, func.count().label("count"))
        .group_by(col(Comment.debrief_id))
        .subquery()
    )
    statement = (
        select(Debrief, Account.name, comments.c.count)
        .outerjoin(Account, col(Account.id) == col(Debrief.account_id))
        .outerjoin(comments, comments.c.debrief_id == col(Debrief.id))
        .where(Debrief.owner_id == owner_id)
        .order_by(col(Debrief.created_at).desc(), col(Debrief.id).desc())
        .limit(limit)
    )
    return [
        DebriefSummary(debrief=debrief, account=name, comments=int(count or 0))
        for debrief, name, count in session.exec(statement)
    ]


def get_debrief(session: Session, debrief_id: int) -> Debrief | None:
    """The debrief with this id, whoever owns it: callers check access."""
    return session.get(Debrief, debrief_id)


def account_name(session: Session, account_id: int | None) -> str | None:
    """The name of an account, if there is one."""
    account = session.get(Account, account_id) if account_id is not None else None
    return account.name if account is not None else None


def add_comment(
    session: Session, author_id: int, debrief_id: int, text: str, at: datetime
) -> Comment:
    """Store a manager's comment on a debrief, written at `at`."""
    comment = Comment(author_id=author_id, debrief_id=debrief_id, text=text, created_at=at)
    session.add(comment)
    session.flush()
    return comment


def get_comment(session: Session, comment_id: int) -> Comment | None:
    """The comment with this id."""
    return session.get(Comment, comment_id)


def comments_on(session: Session, debrief_id: int) -> list[CommentView]:
    """The comments on a debrief, oldest first, with their authors' names."""
    statement = (
        select(Comment, User.display_name)
        .join(User, col(User.id) == col(Comment.author_id))
        .where(Comment.debrief_id == debrief_id)
        .order_by(col(Comment.created_at), col(Comment.id))
    )
    return [CommentView(comment, author) for comment, author in session.exec(statement)]


def comment_key(comment_id: int) -> str:
    """The dedup key of the reminder row that delivers a comment to the rep."""
    return f"comment:{comment_id}"


def comment_id_of(dedup_key: str) -> int | None:
    """The comment id inside a delivery reminder's dedup key, or None."""
    prefix, _, number = dedup_key.partition(":")
    return int(number) if prefix == "comment" and number.isdigit() else None


def team_managers(session: Session, team_id: int) -> list[User]:
    """The managers of a team, in the order they joined it."""
    statement = (
        select(User)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(Membership.team_id == team_id, Membership.role == "manager")
        .order_by(col(Membership.id))
    )
    return list(session.exec(statement))
