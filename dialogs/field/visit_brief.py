"""The visit brief: one message a rep reads before walking into the customer's office."""

from __future__ import annotations

from typing import Any

from dialogs.core.steps import Context
from playbooks.schema import Playbooks
from storage.accounts import get_account, get_contact
from storage.models import Account, Visit

# Telegram refuses messages over 4,096 characters; stay clear of it with room to spare.
BRIEF_LIMIT = 4000
# How much of each free-text answer a brief shows, tried in turn: all of it, then shorter
# cuts when the rep wrote so much that the full brief would not fit in one message.
CUTS = (4000, 120, 60)


def render_brief(ctx: Context, visit: Visit, account: Account, *, saved: bool = False) -> str:
    """The brief as one HTML message, each answer shortened as far as needed to fit."""
    values = brief_values(ctx, visit, account)
    text = ""
    for cut in CUTS:
        text = ctx.t("visit.brief", cut=cut, saved=saved, **values)
        if len(text) <= BRIEF_LIMIT:
            break
    return text


def brief_of_visit(ctx: Context, visit: Visit) -> str:
    """The brief of one of the user's visits; `(ctx, visit) -> str` for other areas' messages."""
    account = get_account(ctx.session, ctx.user.id or 0, visit.account_id)
    if account is None or visit.owner_id != ctx.user.id:
        return ctx.t("visit.not_found")
    return render_brief(ctx, visit, account)


def brief_values(ctx: Context, visit: Visit, account: Account) -> dict[str, Any]:
    """Everything the brief template shows, with playbook ids turned into their items."""
    pb = ctx.playbooks
    return {
        "visit": visit,
        "account": account,
        "when": ctx.format_when(visit.planned_at),
        "contact": _contact_name(ctx, visit),
        "role": pb.decision_roles.get(visit.contact_role or ""),
        **opening_values(pb, visit.territory, visit.lead),
        "strategy": pb.competitive_strategies.get(visit.strategy or ""),
        "objections": [_objection(ctx, item) for item in visit.objections],
        "proof": [
            ctx.local(pb.proof_types[key].label) for key in visit.proof if key in pb.proof_types
        ],
    }


def opening_values(playbooks: Playbooks, territory: str | None, lead: str | None) -> dict[str, Any]:
    """The grid cell for a territory and lead, its class, and the strategy it suggests."""
    grid = playbooks.opening_grid
    cell = next(
        (item for item in grid.cells if (item.territory, item.lead) == (territory, lead)), None
    )
    if cell is None:
        return {"cell": None, "opening_class": None, "suggested": None}
    return {
        "cell": cell,
        "opening_class": next(
            (item for item in grid.classes if item.id == cell.opening_class), None
        ),
        "suggested": playbooks.competitive_strategies.get(cell.strategy),
    }


def _contact_name(ctx: Context, visit: Visit) -> str | None:
    # The contact's current name when they are still on the account; else the snapshot.
    if visit.contact_id is not None:
        contact = get_contact(ctx.session, visit.account_id, visit.contact_id)
        if contact is not None:
            return contact.name
    return visit.contact_name


def _objection(ctx: Context, item: dict[str, str]) -> dict[str, str]:
    objection = ctx.playbooks.objections.get(item.get("type", ""))
    label = ctx.local(objection.label) if objection else item.get("type", "")
    return {"label": label, "answer": item.get("answer", "")}
