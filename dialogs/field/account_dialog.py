"""`/account` (create or update an account) and `/accounts` (list, then a card)."""

from __future__ import annotations

from typing import Any

from dialogs.core.io import Outgoing
from dialogs.core.steps import AnswerKind, Command, Context, Dialog, Option, Step, StopDialog
from dialogs.field.accounts import (
    MAX_NAME,
    NEW,
    account_options,
    already_picked,
    industry_options,
    preselect_account,
    store_picked_account,
    validate_account_name,
    validate_picked_account,
)
from dialogs.field.deal_steps import account_deal_steps, deal_line, save_account_deal
from dialogs.field.visit_dialog import role_values
from playbooks.schema import ContactTactic, Playbooks
from storage.accounts import (
    contacts_of,
    get_account,
    list_accounts,
    open_follow_ups_for_account,
    recent_visits,
    record_change,
    touch,
)
from storage.models import Account, Contact

LEVELS = ("high", "low")
DECISION_MAKER = "decision_maker"
DEAL_STEP = "deal_value"  # after the contacts: the deal on the account


def _begin(ctx: Context, args: str) -> list[Outgoing]:
    preselect_account(ctx, args)
    _prefill(ctx)
    return []


def _prefill(ctx: Context) -> None:
    """Updating: start from the account's stored answers so the card stays complete."""
    account_id = ctx.data.get("account_id")
    account = get_account(ctx.session, ctx.user.id or 0, int(account_id)) if account_id else None
    if account is None:
        return
    for field in ("industry", "stage", "customer_type", "contribution", "stability"):
        ctx.data.setdefault(field, getattr(account, field))
    ctx.data.setdefault("short_term", account.short_term)
    ctx.data.setdefault("long_term", account.long_term)


def _account_of(ctx: Context) -> Account | None:
    """The account being updated; None while it is a new one."""
    account_id = ctx.data.get("account_id")
    return get_account(ctx.session, ctx.user.id or 0, int(account_id)) if account_id else None


def _store_pick(ctx: Context, value: Any) -> None:
    store_picked_account(ctx, value)
    _prefill(ctx)


def _current(field: str, label_of: Any) -> Any:
    """prompt_values showing the stored answer when an account is being updated."""

    def values(ctx: Context) -> dict[str, Any]:
        stored = ctx.data.get(field)
        return {"current": label_of(ctx, stored) if stored is not None else None}

    return values


def _stage_options(ctx: Context) -> list[Option]:
    stages = ctx.playbooks.funnel_stages.values()
    return [Option(stage.id, ctx.local(stage.label), literal=True) for stage in stages]


def _level_options(_ctx: Context) -> list[Option]:
    return [Option(level, f"accounts.level_{level}") for level in LEVELS]


def _type_options(_ctx: Context) -> list[Option]:
    return [Option(kind, f"accounts.type_{kind}") for kind in ("existing", "potential")]


def tier_of(playbooks: Playbooks, data: dict[str, Any]) -> Any:
    """The tier item for the answers in `data` (existing: EI–EIV, potential: PI–PIV)."""
    tiers = playbooks.account_tiers
    if data.get("customer_type") == "existing":
        return tiers.existing_tier(data["contribution"], data["stability"])
    return tiers.potential_tier(data["contribution"], data["stability"])


def _tier_values(ctx: Context) -> dict[str, Any]:
    return {
        "tier": tier_of(ctx.playbooks, ctx.data),
        "matrix": ctx.playbooks.value_matrix,
        **_current("short_term", _plain)(ctx),
    }


def _long_term_values(ctx: Context) -> dict[str, Any]:
    return {"matrix": ctx.playbooks.value_matrix, **_current("long_term", _plain)(ctx)}


def _value_values(ctx: Context) -> dict[str, Any]:
    matrix = ctx.playbooks.value_matrix
    return {"value_class": matrix.classify(ctx.data["short_term"], ctx.data["long_term"])}


def _plain(_ctx: Context, value: Any) -> Any:
    return value


def _label(collection: str) -> Any:
    def label(ctx: Context, value: Any) -> str:
        item = getattr(ctx.playbooks, collection).get(value)
        return ctx.local(item.label) if item else str(value)

    return label


def _choices(collection: str) -> Any:
    def options(ctx: Context) -> list[Option]:
        items = getattr(ctx.playbooks, collection).values()
        return [Option(item.id, ctx.local(item.label), literal=True) for item in items]

    return options


# ----- contacts loop --------------------------------------------------------------


def _store_contact_field(field: str) -> Any:
    def store(ctx: Context, value: Any) -> None:
        ctx.data.setdefault("draft_contact", {})[field] = value
        if field == "relationship":
            contacts = ctx.data.setdefault("contacts", [])
            contacts.append(ctx.data.pop("draft_contact"))

    return store


def _relationship_values(ctx: Context) -> dict[str, Any]:
    """The four relationship types, and the levels relationship marketing climbs (seed 001)."""
    return {
        "types": list(ctx.playbooks.relationship_types.values()),
        "marketing": ctx.playbooks.relationship_marketing,
    }


def _more_contacts(_ctx: Context, value: Any) -> str:
    return "contact_name" if value else DEAL_STEP


# ----- finish ----------------------------------------------------------------------


def _finish(ctx: Context) -> list[Outgoing]:
    account = _save(ctx)
    return [Outgoing(account_card(ctx, account))]


def _save(ctx: Context) -> Account:
    data = ctx.data
    user_id = ctx.user.id or 0
    account = (
        get_account(ctx.session, user_id, int(data["account_id"]))
        if data.get("account_id")
        else None
    )
    if account is None:
        name = str(data.get("name") or data.get("new_account_name") or "?")
        account = Account(owner_id=user_id, name=name[:MAX_NAME])
        ctx.session.add(account)
        ctx.session.flush()
    old_stage = account.stage
    account.industry = data.get("industry")
    account.stage = data["stage"]
    account.customer_type = data["customer_type"]
    account.contribution = data["contribution"]
    account.stability = data["stability"]
    account.tier = tier_of(ctx.playbooks, data).id
    account.short_term = data["short_term"]
    account.long_term = data["long_term"]
    account.value_class = ctx.playbooks.value_matrix.classify(
        data["short_term"], data["long_term"]
    ).number
    record_change(
        ctx.session,
        account,
        user_id,
        "stage",
        old_stage if data.get("account_id") else None,
        account.stage,
    )
    save_account_deal(ctx, account)
    touch(ctx.session, account)
    ctx.session.flush()
    for contact in data.get("contacts", []):
        ctx.session.add(Contact(account_id=account.id or 0, **contact))
    ctx.session.flush()
    return account


def account_card(ctx: Context, account: Account) -> str:
    """The account's card: profile, tier and value advice, contacts, visits, follow-ups."""
    pb = ctx.playbooks
    tier = None
    if account.tier and account.contribution and account.stability:
        tier = tier_of(
            pb,
            {
                "customer_type": account.customer_type,
                "contribution": account.contribution,
                "stability": account.stability,
            },
        )
    contacts = contacts_of(ctx.session, account.id or 0)
    value_class = None
    if account.short_term is not None and account.long_term is not None:
        value_class = pb.value_matrix.classify(account.short_term, account.long_term)
    card = ctx.t(
        "accounts.card",
        account=account,
        industry=pb.industries.get(account.industry or ""),
        stage=pb.funnel_stages.get(account.stage),
        tier=tier,
        value_class=value_class,
        opening=pb.opening_grid.by_letter(account.opening) if account.opening else None,
        opening_class=_opening_class(pb, account.opening),
        contacts=[
            {
                "contact": contact,
                "role": pb.decision_roles.get(contact.role),
                "stance": pb.stances.get(contact.stance),
                "relationship": pb.relationship_types.get(contact.relationship),
            }
            for contact in contacts
        ],
        tactics=breakthrough_tactics(pb, contacts),
        visits=[
            {
                "visit": visit,
                "when": ctx.format_when(visit.planned_at),
                "status": ctx.t(f"accounts.visit_{visit.status}"),
            }
            for visit in recent_visits(ctx.session, account.id or 0)
        ],
        follow_ups=[
            {"follow_up": item, "when": ctx.format_when(item.due_at)}
            for item in open_follow_ups_for_account(ctx.session, account.id or 0)
        ],
    )
    deal = deal_line(ctx, account)
    return f"{card}\n{deal}" if deal else card


def breakthrough_tactics(playbooks: Playbooks, contacts: list[Contact]) -> list[ContactTactic]:
    """Ways past the contacts to a decision maker, when the chain has people but none decides."""
    if not contacts or any(contact.role == DECISION_MAKER for contact in contacts):
        return []
    return list(playbooks.contact_tactics.values())


def _opening_class(playbooks: Playbooks, letter: str | None) -> Any:
    if not letter:
        return None
    wanted = playbooks.opening_grid.by_letter(letter).opening_class
    return next((item for item in playbooks.opening_grid.classes if item.id == wanted), None)


ACCOUNT = Dialog(
    id="account",
    begin=_begin,
    finish=_finish,
    steps=(
        Step(
            id="account",
            prompt="accounts.pick_to_update",
            kind=AnswerKind.CHOICE,
            options=account_options,
            accepts_text=True,
            max_length=MAX_NAME,
            validate=validate_picked_account,
            store=_store_pick,
            when=lambda ctx: not already_picked(ctx),
        ),
        Step(
            id="name",
            prompt="accounts.ask_name",
            max_length=MAX_NAME,
            validate=validate_account_name,
            when=lambda ctx: (
                ctx.data.get("account_id") is None and not ctx.data.get("new_account_name")
            ),
        ),
        Step(
            id="industry",
            prompt="accounts.ask_industry",
            kind=AnswerKind.CHOICE,
            options=industry_options,
            columns=2,
            prompt_values=_current("industry", _label("industries")),
        ),
        Step(
            id="stage",
            prompt="accounts.ask_stage",
            kind=AnswerKind.CHOICE,
            options=_stage_options,
            prompt_values=_current("stage", _label("funnel_stages")),
        ),
        Step(
            id="customer_type",
            prompt="accounts.ask_type",
            kind=AnswerKind.CHOICE,
            options=_type_options,
            columns=2,
        ),
        Step(
            id="contribution",
            prompt="accounts.ask_contribution",
            kind=AnswerKind.CHOICE,
            options=_level_options,
            columns=2,
        ),
        Step(
            id="stability",
            prompt="accounts.ask_stability",
            kind=AnswerKind.CHOICE,
            options=_level_options,
            columns=2,
        ),
        Step(
            id="short_term",
            prompt="accounts.ask_short_term",
            kind=AnswerKind.SCALE,
            prompt_values=_tier_values,
        ),
        Step(
            id="long_term",
            prompt="accounts.ask_long_term",
            kind=AnswerKind.SCALE,
            prompt_values=_long_term_values,
        ),
        Step(
            id="add_contact",
            prompt="accounts.ask_add_contact",
            kind=AnswerKind.YES_NO,
            prompt_values=_value_values,
            next=lambda _ctx, value: "contact_name" if value else DEAL_STEP,
        ),
        Step(
            id="contact_name",
            prompt="accounts.ask_contact_name",
            max_length=80,
            store=_store_contact_field("name"),
        ),
        Step(
            id="contact_role",
            prompt="accounts.ask_contact_role",
            kind=AnswerKind.CHOICE,
            options=_choices("decision_roles"),
            columns=2,
            store=_store_contact_field("role"),
            prompt_values=role_values,
        ),
        Step(
            id="contact_stance",
            prompt="accounts.ask_contact_stance",
            kind=AnswerKind.CHOICE,
            options=_choices("stances"),
            columns=3,
            store=_store_contact_field("stance"),
        ),
        Step(
            id="contact_relationship",
            prompt="accounts.ask_contact_relationship",
            kind=AnswerKind.CHOICE,
            options=_choices("relationship_types"),
            columns=2,
            store=_store_contact_field("relationship"),
            prompt_values=_relationship_values,
        ),
        Step(
            id="more_contacts",
            prompt="accounts.ask_more_contacts",
            kind=AnswerKind.YES_NO,
            next=_more_contacts,
        ),
        # Last, so the card follows at once: the deal's value, and its close month.
        *account_deal_steps(_account_of),
    ),
)


# ----- /accounts -------------------------------------------------------------------


def _begin_list(ctx: Context, _args: str) -> list[Outgoing]:
    if not list_accounts(ctx.session, ctx.user.id or 0, limit=1):
        raise StopDialog([Outgoing(ctx.t("accounts.none_yet"))])
    return []


def _list_options(ctx: Context) -> list[Option]:
    return [option for option in account_options(ctx) if option.key != NEW]


def _show_card(ctx: Context) -> list[Outgoing]:
    account = get_account(ctx.session, ctx.user.id or 0, int(str(ctx.data["account"])[1:]))
    assert account is not None
    return [Outgoing(account_card(ctx, account))]


def _validate_listed(ctx: Context, value: Any) -> str | None:
    text = str(value)
    if not (text.startswith("a") and text[1:].isascii() and text[1:].isdigit()):
        return "errors.not_available"
    return validate_picked_account(ctx, value)


ACCOUNTS = Dialog(
    id="accounts",
    begin=_begin_list,
    finish=_show_card,
    steps=(
        Step(
            id="account",
            prompt="accounts.pick_to_show",
            kind=AnswerKind.CHOICE,
            options=_list_options,
            validate=_validate_listed,
        ),
    ),
)

DIALOGS = (ACCOUNT, ACCOUNTS)
COMMANDS = (
    Command("account", "commands.account", dialog="account"),
    Command("accounts", "commands.accounts", dialog="accounts"),
)
