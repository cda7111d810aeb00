"""The visit brief: one message a rep reads before walking into the customer's office."""

from __future__ import annotations

from typing import Any

from dialogs.core.steps import Context
from playbooks.schema import Playbooks
from storage.accounts import contacts_of, get_account, get_contact
from storage.debriefs import last_debrief
from storage.models import Account, Visit, as_utc
from storage.probes import latest_plan, needs_of

# Telegram refuses messages over 4,096 characters; stay clear of it with room to spare.
BRIEF_LIMIT = 4000
# How much of each free-text answer a brief shows, tried in turn: all of it, then shorter
# cuts when the rep wrote so much that the full brief would not fit in one message.
CUTS = (4000, 120, 60, 30)
OPPONENT = "opponent"
DECISION_MAKER = "decision_maker"
EXPLICIT = "explicit"
MAX_WARNINGS = 5
MAX_NEEDS = 5
MAX_PLAN_QUESTIONS = 5


def render_brief(ctx: Context, visit: Visit, account: Account, *, saved: bool = False) -> str:
    """The brief as one HTML message, each answer shortened as far as needed to fit.

    If even the shortest cuts do not fit, what is recalled from earlier work (the probe
    plan, then the needs heard) gives way to what the rep prepared for this visit.
    """
    values = brief_values(ctx, visit, account)
    text = ""
    for dropped in ((), ("plan",), ("plan", "needs")):
        shown = {**values, **{key: [] for key in dropped}}
        for cut in CUTS:
            text = ctx.t("visit.brief", cut=cut, saved=saved, **shown)
            if len(text) <= BRIEF_LIMIT:
                return text
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
    warnings = chain_warnings(ctx, visit, account)
    return {
        "visit": visit,
        "account": account,
        "when": ctx.format_when(visit.planned_at),
        "contact": _contact_name(ctx, visit),
        "role": pb.decision_roles.get(visit.contact_role or ""),
        # Once the coach asked for a customer action, that is the objective: not the vague one.
        "objective": visit.customer_action or visit.objective or "",
        "warnings": warnings,
        "tactics": _tactics(ctx, warnings),
        "last": _last_debrief(ctx, visit, account),
        "needs": _needs_heard(ctx, visit, account),
        "plan": _plan_questions(ctx, visit, account),
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
        # Some cells have no classic first strategy: their move is the advice.
        "suggested": playbooks.competitive_strategies.get(cell.strategy or ""),
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


def chain_warnings(ctx: Context, visit: Visit, account: Account) -> list[dict[str, Any]]:
    """What the decision chain says to watch out for: opponents, no decision maker known,
    and people whose stance is unknown (including someone met who is not in the chain)."""
    pb = ctx.playbooks
    chain = contacts_of(ctx.session, account.id or 0)
    opponents = [
        {"kind": "opponent", "name": contact.name, "role": pb.decision_roles.get(contact.role)}
        for contact in chain
        if contact.stance == OPPONENT
    ]
    unknown = [
        {"kind": "unknown", "name": contact.name, "role": pb.decision_roles.get(contact.role)}
        for contact in chain
        if contact.stance not in pb.stances
    ]
    named = (visit.contact_name or "").casefold()
    in_chain = any(c.id == visit.contact_id or c.name.casefold() == named for c in chain)
    if visit.contact_name and not in_chain:
        role = pb.decision_roles.get(visit.contact_role or "")
        unknown.append({"kind": "unknown", "name": visit.contact_name, "role": role})
    deciders = [c for c in chain if c.role == DECISION_MAKER]
    missing: list[dict[str, Any]] = []
    if not deciders and visit.contact_role != DECISION_MAKER:
        missing.append({"kind": "no_decider"})
    return [*opponents, *missing, *unknown][:MAX_WARNINGS]


def _tactics(ctx: Context, warnings: list[dict[str, Any]]) -> list[str]:
    """With no decision maker known, the ways past a contact to one (their names only)."""
    if any(warning["kind"] == "no_decider" for warning in warnings):
        return [ctx.local(tactic.label) for tactic in ctx.playbooks.contact_tactics.values()]
    return []


def _last_debrief(ctx: Context, visit: Visit, account: Account) -> dict[str, Any] | None:
    """The key facts and the next step of the account's last debrief."""
    debrief = last_debrief(ctx.session, visit.owner_id, account.id or 0, excluding_visit=visit.id)
    if debrief is None:
        return None
    outcome = ctx.playbooks.call_outcomes.get(debrief.judged_outcome or debrief.outcome)
    return {
        "when": ctx.format_when(as_utc(debrief.created_at)),
        "outcome": outcome,
        "happened": debrief.happened or "",
        "next_step": debrief.next_step or "",
        "due": ctx.format_when(as_utc(debrief.next_step_at)) if debrief.next_step_at else None,
    }


def _needs_heard(ctx: Context, visit: Visit, account: Account) -> list[dict[str, Any]]:
    """The latest needs heard on the account, each once, explicit ones marked."""
    latest: dict[str, dict[str, Any]] = {}
    for need in needs_of(ctx.session, visit.owner_id, account.id or 0):
        key = " ".join(need.text.casefold().split())
        latest.pop(key, None)  # re-inserted: ordered by the latest record
        latest[key] = {"text": need.text, "explicit": need.kind == EXPLICIT}
    return list(latest.values())[-MAX_NEEDS:]


def _plan_questions(ctx: Context, visit: Visit, account: Account) -> list[str]:
    """Questions of the account's latest probe plan not already among the visit's own."""
    plan = latest_plan(ctx.session, visit.owner_id, account.id or 0)
    if plan is None:
        return []
    prepared = {" ".join(question.casefold().split()) for question in visit.questions}
    texts = [str(question.get("text") or "") for question in plan.questions]
    fresh = [text for text in texts if text and " ".join(text.casefold().split()) not in prepared]
    return list(dict.fromkeys(fresh))[:MAX_PLAN_QUESTIONS]
