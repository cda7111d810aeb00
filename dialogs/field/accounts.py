"""Accounts: `/account` creates or updates one, `/accounts` lists them and shows a card.

Also the account picker the other field dialogs reuse.
"""

from __future__ import annotations

import re
from typing import Any

from dialogs.core.answers import has_letter, trim_invisible
from dialogs.core.io import Outgoing
from dialogs.core.steps import AnswerKind, Context, Option, Step, StopDialog
from storage.accounts import (
    find_account_by_name,
    get_account,
    list_accounts,
)
from storage.models import Account

NEW = "new"
PICKED = "picked"
MAX_NAME = 120
FIELD_ROLES = frozenset({"rep", "manager", "trainee"})
# A picked account's key: ASCII digits only ("a²" is a typed name, not a key).
_ACCOUNT_KEY = re.compile(r"a(\d{1,12})", re.ASCII)


def account_key_id(value: Any) -> int | None:
    """The account id in an `a<id>` option key, or None for anything else."""
    match = _ACCOUNT_KEY.fullmatch(str(value))
    return int(match.group(1)) if match else None


def validate_account_name(_ctx: Context, value: Any) -> str | None:
    """A new account's name: at most MAX_NAME characters, with at least one letter."""
    text = str(value)
    if len(text) > MAX_NAME:
        return "accounts.name_too_long"
    if not has_letter(text):
        return "accounts.name_needs_letter"
    return None


# ----- the picker ---------------------------------------------------------------


def account_options(ctx: Context) -> list[Option]:
    """The rep's recent accounts as buttons, then "new account"."""
    accounts = list_accounts(ctx.session, ctx.user.id or 0, limit=12)
    options = [Option(f"a{account.id}", account.name[:40], literal=True) for account in accounts]
    return [*options, Option(NEW, "accounts.new_button")]


def store_picked_account(ctx: Context, value: Any) -> None:
    """Remember the chosen account; a typed name picks a match or starts a new account."""
    text = str(value)
    account: Account | None = None
    key_id = account_key_id(text)
    if key_id is not None:
        account = get_account(ctx.session, ctx.user.id or 0, key_id)
    elif text != NEW:
        name = trim_invisible(text)
        account = find_account_by_name(ctx.session, ctx.user.id or 0, name)
        if account is None:
            ctx.data["new_account_name"] = name[:MAX_NAME]
    ctx.data["account_id"] = account.id if account else None
    if account is not None:
        ctx.data["account_name"] = account.name
        ctx.data.pop("new_account_name", None)


def validate_picked_account(ctx: Context, value: Any) -> str | None:
    """An `a<id>` key must name one of the rep's own accounts (forged ids are refused).

    Anything else but "new" is a typed name, which needs a letter.
    """
    text = str(value)
    key_id = account_key_id(text)
    if key_id is not None:
        owned = get_account(ctx.session, ctx.user.id or 0, key_id) is not None
        return None if owned else "errors.not_available"
    if text == NEW:
        return None
    return validate_account_name(ctx, text)


def preselect_account(ctx: Context, args: str, *, new_when_none: bool = True) -> None:
    """`/command <account name>` picks (or starts) that account; the picker is then skipped.

    With `new_when_none`, a rep who has no accounts yet goes straight to a new one.
    """
    name = trim_invisible(args)
    error = validate_account_name(ctx, name) if name else None
    if error is not None:
        raise StopDialog([Outgoing(ctx.t(error))])
    if name:
        store_picked_account(ctx, name)
        ctx.data[PICKED] = True
    elif new_when_none and not list_accounts(ctx.session, ctx.user.id or 0, limit=1):
        ctx.data["account_id"] = None
        ctx.data[PICKED] = True


def already_picked(ctx: Context) -> bool:
    """Whether `preselect_account` settled the account, so the picker step is skipped."""
    return bool(ctx.data.get(PICKED))


def is_new_account(ctx: Context) -> bool:
    """Whether the picked account still has to be created."""
    return ctx.data.get("account_id") is None


def pick_account_step(prompt: str = "accounts.pick") -> Step:
    """A step choosing one of the rep's accounts, or typing a new one's name."""
    return Step(
        id="account",
        prompt=prompt,
        kind=AnswerKind.CHOICE,
        options=account_options,
        accepts_text=True,
        max_length=MAX_NAME,
        validate=validate_picked_account,
        store=store_picked_account,
    )


def industry_options(ctx: Context) -> list[Option]:
    """Industries from the playbook."""
    return [
        Option(industry.id, ctx.local(industry.label), literal=True)
        for industry in ctx.playbooks.industries.values()
    ]


def _store_new_name(ctx: Context, value: Any) -> None:
    ctx.data["new_account_name"] = trim_invisible(str(value))


def new_account_steps() -> tuple[Step, ...]:
    """Name and industry of an account created inline, asked only when it is new."""
    return (
        Step(
            id="new_account_name",
            prompt="accounts.ask_name",
            max_length=MAX_NAME,
            validate=validate_account_name,
            store=_store_new_name,
            when=lambda ctx: is_new_account(ctx) and not ctx.data.get("new_account_name"),
        ),
        Step(
            id="new_account_industry",
            prompt="accounts.ask_industry",
            kind=AnswerKind.CHOICE,
            options=industry_options,
            columns=2,
            when=is_new_account,
            prompt_values=lambda _ctx: {"current": None},
        ),
    )


def ensure_account(ctx: Context) -> Account:
    """The picked account, created now if it is new."""
    account_id = ctx.data.get("account_id")
    if account_id is not None:
        account = get_account(ctx.session, ctx.user.id or 0, int(account_id))
        assert account is not None
        return account
    account = Account(
        owner_id=ctx.user.id or 0,
        name=str(ctx.data.get("new_account_name") or "?")[:MAX_NAME],
        industry=ctx.data.get("new_account_industry"),
    )
    ctx.session.add(account)
    ctx.session.flush()
    ctx.data["account_id"] = account.id
    return account
