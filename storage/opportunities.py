"""Deals on accounts: creating and updating them with their history, and the team's pipeline.

Nothing here knows the playbook: callers pass stage ids and which stage means
won. Every change is kept as a row in `opportunity_changes`, so a week's
movement (moved, won, lost, slipped) can be told, and the pipeline as it was
a week ago rebuilt, from the history alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import exists, func
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from storage.models import (
    Account,
    Contact,
    FollowUp,
    Membership,
    Opportunity,
    OpportunityChange,
    User,
    Visit,
    as_utc,
)

OPEN, WON, LOST = "open", "won", "lost"
STATUSES = (OPEN, WON, LOST)
CREATED = "created"
MAX_TEAM_DEALS = 2000  # a digest reads at most this many deals of one team


def month_text(month: date) -> str:
    """A close month as stored in the history: "2027-03"."""
    return f"{month.year:04d}-{month.month:02d}"


def month_from_text(text: str) -> date:
    """The first day of the month "2027-03" names."""
    year, month = text.split("-", 1)
    return date(int(year), int(month), 1)


def open_opportunity(session: Session, account_id: int) -> Opportunity | None:
    """The account's open deal, the most recent one if there are several."""
    statement = (
        select(Opportunity)
        .where(Opportunity.account_id == account_id, Opportunity.status == OPEN)
        .order_by(col(Opportunity.id).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def _record(
    session: Session,
    deal: Opportunity,
    user_id: int,
    field_name: str,
    old: str | None,
    new: str | None,
    now: datetime,
) -> None:
    session.add(
        OpportunityChange(
            opportunity_id=deal.id or 0,
            changed_by=user_id,
            field_name=field_name,
            old_value=old,
            new_value=new,
            changed_at=now,
        )
    )


def add_opportunity(
    session: Session,
    account: Account,
    user_id: int,
    *,
    value_minor: int,
    currency: str,
    close_month: date,
    stage: str,
    now: datetime,
    won_stage: str,
) -> Opportunity:
    """A new open deal on the account (won at once if it starts in the won stage)."""
    deal = Opportunity(
        account_id=account.id or 0,
        owner_id=account.owner_id,
        value_minor=value_minor,
        currency=currency,
        close_month=close_month.replace(day=1),
        stage=stage,
        stage_entered_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(deal)
    session.flush()
    _record(session, deal, user_id, CREATED, None, stage, now)
    if stage == won_stage:
        _close(session, deal, user_id, WON, now)
    return deal


def update_opportunity(
    session: Session,
    deal: Opportunity,
    user_id: int,
    *,
    now: datetime,
    won_stage: str,
    value_minor: int | None = None,
    currency: str | None = None,
    close_month: date | None = None,
    stage: str | None = None,
    lost: bool = False,
) -> list[str]:
    """Apply what changed, keeping each change in the history; the names of the fields changed."""
    changed: list[str] = []
    if value_minor is not None and (value_minor, currency or deal.currency) != (
        deal.value_minor,
        deal.currency,
    ):
        _record(session, deal, user_id, "value", str(deal.value_minor), str(value_minor), now)
        deal.value_minor, deal.currency = value_minor, currency or deal.currency
        changed.append("value")
    if close_month is not None and close_month.replace(day=1) != deal.close_month:
        new_month = close_month.replace(day=1)
        old_text, new_text = month_text(deal.close_month), month_text(new_month)
        _record(session, deal, user_id, "close_month", old_text, new_text, now)
        deal.close_month = new_month
        changed.append("close_month")
    if stage is not None and stage != deal.stage:
        _record(session, deal, user_id, "stage", deal.stage, stage, now)
        deal.stage, deal.stage_entered_at = stage, now
        changed.append("stage")
    if deal.status == OPEN and (lost or deal.stage == won_stage):
        _close(session, deal, user_id, LOST if lost else WON, now)
        changed.append("status")
    if changed:
        deal.updated_at = now
        session.add(deal)
    return changed


def _close(session: Session, deal: Opportunity, user_id: int, status: str, now: datetime) -> None:
    """Won or lost. A won deal counts in the month it was won, whatever was expected."""
    _record(session, deal, user_id, "status", deal.status, status, now)
    deal.status, deal.closed_at = status, now
    if status == WON:
        won_month = date(now.year, now.month, 1)
        if won_month != deal.close_month:
            old_text, new_text = month_text(deal.close_month), month_text(won_month)
            _record(session, deal, user_id, "close_month", old_text, new_text, now)
            deal.close_month = won_month
    session.add(deal)


# ----- the team's pipeline ----------------------------------------------------------


@dataclass(frozen=True)
class DealState:
    """A deal as it stood at one moment."""

    value_minor: int
    currency: str
    close_month: date
    stage: str
    status: str


@dataclass(frozen=True)
class Deal:
    """One deal of a team: who owns it, on which account, now and a moment ago."""

    id: int
    account_id: int
    account: str
    owner_id: int
    owner: str
    value_class: int | None
    stage_entered_at: datetime
    now: DealState
    before: DealState | None  # None: the deal did not exist yet
    changed: frozenset[str]  # fields changed since `before`: stage, value, close_month, status


def _apply_back(state: DealState, change: OpportunityChange) -> DealState | None:
    """The state before `change`; None when the change created the deal."""
    old = change.old_value
    if change.field_name == CREATED:
        return None
    if change.field_name == "stage" and old is not None:
        return replace(state, stage=old)
    if change.field_name == "value" and old is not None:
        return replace(state, value_minor=int(old))
    if change.field_name == "close_month" and old is not None:
        return replace(state, close_month=month_from_text(old))
    if change.field_name == "status" and old is not None:
        return replace(state, status=old)
    return state


def _undo(state: DealState | None, changes: list[OpportunityChange]) -> DealState | None:
    """The state before `changes` (newest first) were made."""
    for change in changes:
        if state is None:
            break
        state = _apply_back(state, change)
    return state


def team_deals(session: Session, team_id: int, at: datetime, before: datetime) -> list[Deal]:
    """The team members' deals as they stood at `at` and at `before` (earlier), with what changed.

    Both states are rebuilt from today's rows by undoing, newest first, every
    change made after the moment; a deal created after `at` is left out.
    """
    members = select(Membership.user_id).where(
        Membership.team_id == team_id, Membership.role == "member"
    )
    # Correlated, so the index on the deal id answers it: not every deal changed this week.
    changed_since = exists().where(
        col(OpportunityChange.opportunity_id) == col(Opportunity.id),
        col(OpportunityChange.changed_at) >= before,
    )
    # Plain columns, not ORM objects: a digest reads a whole team's deals at once.
    statement = (
        select_columns(
            col(Opportunity.id),
            col(Opportunity.account_id),
            col(Opportunity.owner_id),
            col(Opportunity.value_minor),
            col(Opportunity.currency),
            col(Opportunity.close_month),
            col(Opportunity.stage),
            col(Opportunity.status),
            col(Opportunity.stage_entered_at),
            col(Opportunity.created_at),
            col(Account.name),
            col(Account.value_class),
            col(User.display_name),
        )
        .join(Account, col(Account.id) == col(Opportunity.account_id))
        .join(User, col(User.id) == col(Opportunity.owner_id))
        .where(
            col(Opportunity.owner_id).in_(members),
            col(Opportunity.created_at) < at,
            (col(Opportunity.status) == OPEN) | changed_since,
        )
        .order_by(col(User.display_name), col(Account.name), col(Opportunity.id))
        .limit(MAX_TEAM_DEALS)
    )
    rows = list(session.execute(statement))
    ids = [row[0] for row in rows]
    history: dict[int, list[OpportunityChange]] = {}
    if ids:
        recent = select(OpportunityChange).where(
            col(OpportunityChange.opportunity_id).in_(ids),
            col(OpportunityChange.changed_at) >= before,
        )
        for change in session.exec(recent.order_by(col(OpportunityChange.id).desc())):
            history.setdefault(change.opportunity_id, []).append(change)
    deals = []
    for (
        deal_id,
        account_id,
        owner_id,
        value_minor,
        currency,
        close_month,
        stage,
        status,
        stage_entered_at,
        created_at,
        account,
        value_class,
        owner,
    ) in rows:
        changes = history.get(deal_id, [])
        later = [change for change in changes if as_utc(change.changed_at) >= at]
        within = [change for change in changes if as_utc(change.changed_at) < at]
        month = close_month if isinstance(close_month, date) else date.fromisoformat(close_month)
        then = _undo(DealState(value_minor, currency, month, stage, status), later)
        if then is None:
            continue
        entered = as_utc(stage_entered_at)
        if any(change.field_name == "stage" for change in later):
            stage_moves = [as_utc(c.changed_at) for c in within if c.field_name == "stage"]
            entered = max(stage_moves, default=as_utc(created_at))
        deals.append(
            Deal(
                id=deal_id,
                account_id=account_id,
                account=account,
                owner_id=owner_id,
                owner=owner,
                value_class=value_class,
                stage_entered_at=entered,
                now=then,
                before=_undo(then, within),
                changed=frozenset(change.field_name for change in within),
            )
        )
    return deals


@dataclass
class AccountSigns:
    """What the records say about an account's health, for deals at risk."""

    contacts: int = 0
    opponents: int = 0
    decision_maker_neutral: bool = False
    decision_maker_met: bool = False
    last_visit: datetime | None = None
    open_next_steps: int = 0
    overdue_next_steps: int = 0


def account_signs(
    session: Session, account_ids: Sequence[int], as_of: datetime
) -> dict[int, AccountSigns]:
    """Per account: its decision chain, whether a decision maker was met, visits and next steps."""
    ids = sorted(set(account_ids))
    found = {account_id: AccountSigns() for account_id in ids}
    if not ids:
        return found
    contacts = select(Contact.account_id, Contact.role, Contact.stance).where(
        col(Contact.account_id).in_(ids)
    )
    for account_id, role, stance in session.exec(contacts):
        signs = found[account_id]
        signs.contacts += 1
        signs.opponents += stance == "opponent"
        if role == "decision_maker" and stance == "neutral":
            signs.decision_maker_neutral = True
    met = (
        select(Visit.account_id)
        .outerjoin(Contact, col(Contact.id) == col(Visit.contact_id))
        .where(
            col(Visit.account_id).in_(ids),
            Visit.status == "done",
            (col(Visit.contact_role) == "decision_maker") | (col(Contact.role) == "decision_maker"),
        )
        .distinct()
    )
    for account_id in session.exec(met):
        found[account_id].decision_maker_met = True
    visited = (
        select(Visit.account_id, func.max(func.coalesce(Visit.done_at, Visit.planned_at)))
        .where(col(Visit.account_id).in_(ids), Visit.status == "done")
        .group_by(col(Visit.account_id))
    )
    for account_id, moment in session.exec(visited):
        found[account_id].last_visit = as_utc(moment) if moment is not None else None
    steps = select(FollowUp.account_id, FollowUp.due_at).where(
        col(FollowUp.account_id).in_(ids), FollowUp.status == "open"
    )
    for step_account, due in session.exec(steps):
        if step_account is not None:
            found[step_account].open_next_steps += 1
            found[step_account].overdue_next_steps += as_utc(due) < as_of
    return found
