"""Queries about accounts and their contacts; every read is scoped to the owning rep."""

from __future__ import annotations

from sqlmodel import Session, col, or_, select

from storage.models import (
    Account,
    AccountChange,
    Contact,
    FollowUp,
    Membership,
    Visit,
    utcnow,
)


def list_accounts(session: Session, owner_id: int, limit: int = 50) -> list[Account]:
    """The rep's accounts, most recently touched first."""
    statement = (
        select(Account)
        .where(Account.owner_id == owner_id)
        .order_by(col(Account.updated_at).desc(), col(Account.id).desc())
        .limit(limit)
    )
    return list(session.exec(statement))


def get_account(session: Session, owner_id: int, account_id: int) -> Account | None:
    """The account, only if it belongs to `owner_id` (ids typed by hand reveal nothing)."""
    account = session.get(Account, account_id)
    return account if account is not None and account.owner_id == owner_id else None


def find_account_by_name(session: Session, owner_id: int, name: str) -> Account | None:
    """The rep's account with this name, ignoring case."""
    wanted = name.strip().casefold()
    return next(
        (a for a in list_accounts(session, owner_id, 500) if a.name.casefold() == wanted), None
    )


def record_change(
    session: Session,
    account: Account,
    changed_by: int,
    field_name: str,
    old_value: str | None,
    new_value: str | None,
) -> None:
    """Keep the history of a changed field, when it really changed."""
    if old_value == new_value or account.id is None:
        return
    session.add(
        AccountChange(
            account_id=account.id,
            changed_by=changed_by,
            field_name=field_name,
            old_value=old_value,
            new_value=new_value,
        )
    )


def touch(session: Session, account: Account) -> None:
    """Mark the account as just worked on."""
    account.updated_at = utcnow()
    session.add(account)


def contacts_of(session: Session, account_id: int) -> list[Contact]:
    """The account's decision-chain contacts, in the order they were added."""
    statement = select(Contact).where(Contact.account_id == account_id).order_by(col(Contact.id))
    return list(session.exec(statement))


def get_contact(session: Session, account_id: int, contact_id: int) -> Contact | None:
    """A contact, only if it belongs to the account."""
    contact = session.get(Contact, contact_id)
    return contact if contact is not None and contact.account_id == account_id else None


def recent_visits(session: Session, account_id: int, limit: int = 5) -> list[Visit]:
    """The account's latest visits, newest first."""
    statement = (
        select(Visit)
        .where(Visit.account_id == account_id, Visit.status != "cancelled")
        .order_by(col(Visit.planned_at).desc())
        .limit(limit)
    )
    return list(session.exec(statement))


def open_follow_ups_for_account(session: Session, account_id: int) -> list[FollowUp]:
    """Follow-ups on the account that are not done yet, soonest first."""
    statement = (
        select(FollowUp)
        .where(FollowUp.account_id == account_id, FollowUp.status == "open")
        .order_by(col(FollowUp.due_at))
    )
    return list(session.exec(statement))


def industries_around(session: Session, user_id: int) -> set[str]:
    """The industries of the accounts of the user and of everyone in the user's teams.

    What a rep or trainee works on, for content written for some industries only;
    empty when nobody around them has an account with an industry.
    """
    teams = select(Membership.team_id).where(Membership.user_id == user_id)
    people = select(Membership.user_id).where(col(Membership.team_id).in_(teams))
    statement = (
        select(Account.industry)
        .where(
            col(Account.industry).is_not(None),
            or_(Account.owner_id == user_id, col(Account.owner_id).in_(people)),
        )
        .distinct()
    )
    return {industry for industry in session.exec(statement) if industry}
