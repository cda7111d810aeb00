"""`/debrief`: the post-visit coaching review, ending in a coaching card and a follow-up."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from dialogs.core.io import Outgoing
from dialogs.core.steps import (
    AnswerKind,
    Command,
    Context,
    Dialog,
    Option,
    Predicate,
    Step,
    StopDialog,
)
from dialogs.field.accounts import ensure_account, new_account_steps, pick_account_step
from dialogs.field.coaching_card import drills_by_objection, strongest, suggest_drill, weakest
from dialogs.field.deal_steps import debrief_deal_steps, save_debrief_deal
from playbooks.locales import load_locale
from playbooks.schema import DebriefQuestion, OpeningCell, RatingItem, RatingLevel
from storage.accounts import contacts_of, get_account, get_contact, record_change, touch
from storage.debriefs import (
    DONE,
    add_debrief,
    add_follow_up,
    mark_visit_done,
    objections_met,
    visit_awaiting_debrief,
    visits_awaiting_debrief,
)
from storage.models import Account, Contact, Debrief, FollowUp, Visit
from storage.reminders import cancel_visit_reminders, schedule_follow_up
from storage.visits import add_visit
from understanding.reading import NotUnderstood

AD_HOC = "none"  # the "no planned visit" option
SAME = "same"  # "unchanged" in the account-change steps
KEEP = "keep"  # keep the objective written when the visit was planned
PRESET = "_visit_preset"  # the visit was settled by `begin`; the picker is skipped
ADVANCE = "advance"
CONTINUATION = "continuation"
NUDGED_OUTCOMES = frozenset({CONTINUATION, "no_sale"})
MAX_COMMITMENT = 500
# The free-text answers that report what the customer said, read for objections.
CUSTOMER_ANSWERS = ("happened", "why_customer")
# The role-play form has more items; the self-rating asks the first five the playbook lists.
RATED_ITEMS = 5
MAX_VISITS_OFFERED = 8
# How far back the picker looks for visits still waiting for a debrief.
LOOKBACK = timedelta(days=14)
# Objections logged on the account this long before the visit count as met in it.
OBJECTION_WINDOW = timedelta(hours=12)
MAX_NEXT_STEP = 500  # the length a follow-up keeps
MAX_CONTACTS = 12
_VISIT_KEY = re.compile(r"^v(\d{1,12})$")
_VISIT_ARGS = re.compile(r"^visit_(\d{1,12})$")
_CONTACT_KEY = re.compile(r"^c(\d{1,12})$")

PromptValues = Callable[[Context], dict[str, Any]]
Store = Callable[[Context, Any], None]


# ----- which visit ------------------------------------------------------------------


def _end_of_local_day(ctx: Context) -> datetime:
    """Midnight after today in the user's zone, in UTC: today's later visits count too."""
    tomorrow = ctx.now.astimezone(ctx.zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=ctx.zone).astimezone(UTC)


def _awaiting(ctx: Context) -> list[Visit]:
    return visits_awaiting_debrief(
        ctx.session,
        ctx.user.id or 0,
        ctx.now - LOOKBACK,
        _end_of_local_day(ctx),
        limit=MAX_VISITS_OFFERED,
    )


def _visit(ctx: Context) -> Visit | None:
    """The planned visit being debriefed, while it is still the rep's and undebriefed."""
    visit_id = ctx.data.get("visit_id")
    if visit_id is None:
        return None
    return visit_awaiting_debrief(ctx.session, ctx.user.id or 0, int(visit_id))


def _account(ctx: Context) -> Account | None:
    account_id = ctx.data.get("account_id")
    if account_id is None:
        return None
    return get_account(ctx.session, ctx.user.id or 0, int(account_id))


def _choose_visit(ctx: Context, visit: Visit) -> None:
    account = get_account(ctx.session, ctx.user.id or 0, visit.account_id)
    ctx.data["visit_id"] = visit.id
    ctx.data["account_id"] = visit.account_id
    ctx.data["account_name"] = account.name if account else ""
    ctx.data["visit_when"] = ctx.format_when(visit.planned_at)


def _choose_ad_hoc(ctx: Context) -> None:
    for key in ("visit_id", "account_id", "account_name", "visit_when", "new_account_name"):
        ctx.data.pop(key, None)
    ctx.data["visit_id"] = None
    ctx.data["account_id"] = None


def _is_ad_hoc(ctx: Context) -> bool:
    return ctx.data.get("visit_id") is None


def _visit_label(ctx: Context, visit: Visit) -> str:
    account = get_account(ctx.session, ctx.user.id or 0, visit.account_id)
    name = account.name[:24] if account else "?"
    return f"{name} · {ctx.format_when(visit.planned_at)}"


def _begin(ctx: Context, args: str) -> list[Outgoing]:
    """`visit_<id>` (from a reminder) preselects that visit; no waiting visit means ad hoc."""
    match = _VISIT_ARGS.match(args.strip())
    if match:
        visit = visit_awaiting_debrief(ctx.session, ctx.user.id or 0, int(match.group(1)))
        if visit is None:
            raise StopDialog([Outgoing(ctx.t("debrief.visit_unavailable"))])
        _choose_visit(ctx, visit)
        ctx.data[PRESET] = True
        return [Outgoing(ctx.t("debrief.intro_visit", visit=_visit_label(ctx, visit)))]
    if not _awaiting(ctx):
        _choose_ad_hoc(ctx)
        ctx.data[PRESET] = True
        return [Outgoing(ctx.t("debrief.intro_ad_hoc"))]
    return [Outgoing(ctx.t("debrief.intro"))]


def _visit_options(ctx: Context) -> list[Option]:
    options = [
        Option(f"v{visit.id}", _visit_label(ctx, visit), literal=True) for visit in _awaiting(ctx)
    ]
    return [*options, Option(AD_HOC, "debrief.ad_hoc_button")]


def _picked_visit(ctx: Context, value: Any) -> Visit | None:
    match = _VISIT_KEY.match(str(value))
    if match is None:
        return None
    return visit_awaiting_debrief(ctx.session, ctx.user.id or 0, int(match.group(1)))


def _validate_visit(ctx: Context, value: Any) -> str | None:
    # The list may have changed since it was shown (a debrief finished elsewhere).
    if value == AD_HOC or _picked_visit(ctx, value) is not None:
        return None
    return "errors.not_available"


def _store_visit(ctx: Context, value: Any) -> None:
    visit = _picked_visit(ctx, value)
    _choose_ad_hoc(ctx)  # start clean: the rep may have come back to pick another
    if visit is not None:
        _choose_visit(ctx, visit)


# ----- the review questions ---------------------------------------------------------


def _question(ctx: Context, question_id: str, phase: str) -> DebriefQuestion | None:
    """A question from the playbook's bank; the phase's first if a company renamed it."""
    bank = ctx.playbooks.debrief_questions
    if question_id in bank:
        return bank[question_id]
    return next((item for item in bank.values() if item.phase == phase), None)


def _asks(phase: str, *question_ids: str) -> PromptValues:
    """prompt_values with the playbook's questions for a step, in the user's language."""

    def values(ctx: Context) -> dict[str, Any]:
        questions = [_question(ctx, question_id, phase) for question_id in question_ids]
        unique = list(dict.fromkeys(item for item in questions if item is not None))
        return {
            "questions": unique,
            "account_name": ctx.data.get("account_name") or ctx.data.get("new_account_name"),
            "visit_when": ctx.data.get("visit_when"),
        }

    return values


def _objective_options(ctx: Context) -> list[Option]:
    visit = _visit(ctx)
    return [Option(KEEP, "debrief.keep_objective")] if visit and visit.objective else []


def _objective_values(ctx: Context) -> dict[str, Any]:
    visit = _visit(ctx)
    return {
        **_asks("objective_plan_result", "objective")(ctx),
        "planned": visit.objective if visit else None,
        "customer_action": visit.customer_action if visit else None,
    }


def _store_objective(ctx: Context, value: Any) -> None:
    visit = _visit(ctx)
    if value == KEEP and visit is not None and visit.objective:
        ctx.data["objective"] = visit.objective
    else:
        ctx.data["objective"] = value


def _plan_values(ctx: Context) -> dict[str, Any]:
    visit = _visit(ctx)
    strategy = ctx.playbooks.competitive_strategies.get(visit.strategy or "") if visit else None
    return {
        **_asks("objective_plan_result", "plan")(ctx),
        "strategy": strategy,
        "prepared": len(visit.questions) if visit else 0,
    }


# ----- outcome ----------------------------------------------------------------------


def _outcome_options(ctx: Context) -> list[Option]:
    outcomes = ctx.playbooks.call_outcomes.values()
    return [Option(outcome.id, ctx.local(outcome.label), literal=True) for outcome in outcomes]


def _outcome_values(ctx: Context) -> dict[str, Any]:
    result = _question(ctx, "result", "objective_plan_result")
    return {
        "outcomes": list(ctx.playbooks.call_outcomes.values()),
        "note": result.coach_note if result else None,
    }


def _names_action(ctx: Context, text: Any) -> bool:
    return bool(text) and ctx.services.understanding.names_customer_action(str(text))


def _needs_commitment(ctx: Context) -> bool:
    """An advance whose account of the visit names no customer action: ask for the commitment."""
    return ctx.data.get("outcome") == ADVANCE and not _names_action(ctx, ctx.data.get("happened"))


def judged_outcome(ctx: Context) -> str | None:
    """The call's outcome as the coach reads it.

    An advance needs a concrete customer commitment (who agreed to do what, by when):
    one the objective model finds in what happened or in the commitment the rep named.
    Without one, the rep's "advance" is a continuation. Other outcomes stand as given.
    """
    claimed = ctx.data.get("outcome")
    if claimed != ADVANCE:
        return str(claimed) if claimed is not None else None
    if _names_action(ctx, ctx.data.get("happened")):
        return ADVANCE
    return ADVANCE if _names_action(ctx, ctx.data.get("commitment")) else CONTINUATION


def _judged(outcome: str) -> Predicate:
    def check(ctx: Context) -> bool:
        return judged_outcome(ctx) == outcome

    return check


def _downgraded(ctx: Context) -> bool:
    """The rep called it an advance; the coach reads a continuation."""
    return ctx.data.get("outcome") == ADVANCE and judged_outcome(ctx) == CONTINUATION


def _advance_instead_values(ctx: Context) -> dict[str, Any]:
    commitment = ctx.data.get("commitment") if _needs_commitment(ctx) else None
    return {"downgraded": _downgraded(ctx), "commitment": commitment}


def _missed_advance(ctx: Context) -> str | None:
    """After a continuation, the advance the rep says the customer could have agreed to."""
    if judged_outcome(ctx) != CONTINUATION:
        return None  # answered, then the outcome was changed with /back
    return ctx.data.get("advance_instead")


def _improve_values(ctx: Context) -> dict[str, Any]:
    return {**_asks("best_improve", "improve")(ctx), "advance_instead": _missed_advance(ctx)}


# ----- self-rating ------------------------------------------------------------------


def _rated_items(ctx: Context) -> list[RatingItem]:
    return ctx.playbooks.self_rating.items[:RATED_ITEMS]


def _scale(ctx: Context) -> list[RatingLevel]:
    """The rating levels, best first (7 / 5 / 3)."""
    return sorted(ctx.playbooks.self_rating.scale, key=lambda level: -level.score)


def _rating_options(ctx: Context) -> list[Option]:
    return [
        Option(str(level.score), f"{level.score} · {ctx.local(level.label)}", literal=True)
        for level in _scale(ctx)
    ]


def _has_item(slot: int) -> Predicate:
    def shown(ctx: Context) -> bool:
        return slot < len(_rated_items(ctx))

    return shown


def _rating_values(slot: int) -> PromptValues:
    def values(ctx: Context) -> dict[str, Any]:
        item = _rated_items(ctx)[slot]
        return {
            "number": slot + 1,
            "total": len(_rated_items(ctx)),
            "item": item,
            "levels": [
                {"score": level.score, "label": level.label, "text": item.levels[level.score]}
                for level in _scale(ctx)
            ],
        }

    return values


def _store_rating(slot: int) -> Store:
    def store(ctx: Context, value: Any) -> None:
        item = _rated_items(ctx)[slot]
        ratings: dict[str, int] = ctx.data.setdefault("ratings", {})
        if value is None:
            ratings.pop(item.id, None)  # skipped: not rated
        else:
            ratings[item.id] = int(value)

    return store


def _rating_steps() -> tuple[Step, ...]:
    """One step per rated item, so /back walks through the ratings one by one."""
    return tuple(
        Step(
            id=f"rate_{slot + 1}",
            prompt="debrief.ask_rating",
            kind=AnswerKind.CHOICE,
            options=_rating_options,
            optional=True,
            columns=3,
            when=_has_item(slot),
            store=_store_rating(slot),
            prompt_values=_rating_values(slot),
        )
        for slot in range(RATED_ITEMS)
    )


# ----- account changes --------------------------------------------------------------


def _current_stage(ctx: Context) -> str | None:
    account = _account(ctx)
    return account.stage if account else None


def _stage_options(ctx: Context) -> list[Option]:
    options = [
        Option(stage.id, ctx.local(stage.label), literal=True)
        for stage in ctx.playbooks.funnel_stages.values()
        if stage.id != _current_stage(ctx)
    ]
    # An account created in this debrief has nothing to keep unchanged; Skip says "not sure".
    unchanged = [Option(SAME, "debrief.unchanged")] if _current_stage(ctx) else []
    return [*options, *unchanged]


def _stage_values(ctx: Context) -> dict[str, Any]:
    return {"current": ctx.playbooks.funnel_stages.get(_current_stage(ctx) or "")}


def _axis_options(axis: str) -> Callable[[Context], list[Option]]:
    def options(ctx: Context) -> list[Option]:
        values = getattr(ctx.playbooks.opening_grid, axis)
        return [Option(value.id, ctx.local(value.label), literal=True) for value in values]

    return options


def _current_opening(ctx: Context) -> OpeningCell | None:
    account = _account(ctx)
    if account is None or not account.opening:
        return None
    return ctx.playbooks.opening_grid.by_letter(account.opening)


def _territory_options(ctx: Context) -> list[Option]:
    unchanged = [Option(SAME, "debrief.unchanged")] if _current_opening(ctx) else []
    return [*_axis_options("territories")(ctx), *unchanged]


def _territory_values(ctx: Context) -> dict[str, Any]:
    territories = ctx.playbooks.opening_grid.territories
    return {"current": _current_opening(ctx), "territories": territories}


def _territory_changed(ctx: Context) -> bool:
    territories = {value.id for value in ctx.playbooks.opening_grid.territories}
    return ctx.data.get("territory") in territories


def _lead_values(ctx: Context) -> dict[str, Any]:
    return {"leads": ctx.playbooks.opening_grid.leads}


def _account_contacts(ctx: Context) -> list[Contact]:
    account = _account(ctx)
    return contacts_of(ctx.session, account.id or 0)[:MAX_CONTACTS] if account else []


def _has_contacts(ctx: Context) -> bool:
    return bool(_account_contacts(ctx))


def _contact_options(ctx: Context) -> list[Option]:
    return [
        Option(f"c{contact.id}", contact.name[:48], literal=True)
        for contact in _account_contacts(ctx)
    ]


def _contact_for_key(ctx: Context, value: Any) -> Contact | None:
    match = _CONTACT_KEY.match(str(value))
    account = _account(ctx)
    if match is None or account is None:
        return None
    return get_contact(ctx.session, account.id or 0, int(match.group(1)))


def _validate_contact(ctx: Context, value: Any) -> str | None:
    return None if _contact_for_key(ctx, value) is not None else "errors.not_available"


def _stance_values(ctx: Context) -> dict[str, Any]:
    contact = _contact_for_key(ctx, ctx.data.get("contact"))
    return {
        "name": contact.name if contact else "",
        "current": ctx.playbooks.stances.get(contact.stance) if contact else None,
        "stances": list(ctx.playbooks.stances.values()),
    }


def _stance_options(ctx: Context) -> list[Option]:
    stances = ctx.playbooks.stances.values()
    return [Option(stance.id, ctx.local(stance.label), literal=True) for stance in stances]


# ----- next step --------------------------------------------------------------------


def _next_step_values(ctx: Context) -> dict[str, Any]:
    outcome = judged_outcome(ctx)
    return {"nudge": outcome if outcome in NUDGED_OUTCOMES else None}


def _in_future(ctx: Context, value: Any) -> str | None:
    return "debrief.past_time" if datetime.fromisoformat(str(value)) <= ctx.now else None


# ----- finish -----------------------------------------------------------------------


def _finish(ctx: Context) -> list[Outgoing]:
    visit = _visit(ctx)
    account = ensure_account(ctx)  # a planned visit's account, or the one picked ad hoc
    if visit is None and _is_ad_hoc(ctx):
        visit = _ad_hoc_visit(ctx, account)
    changes = _apply_account_changes(ctx, account)
    deal_changes = save_debrief_deal(ctx, account)
    debrief = add_debrief(ctx.session, _debrief_from_answers(ctx, visit, account))
    follow_up = _add_next_step(ctx, account, debrief)
    if visit is not None:
        mark_visit_done(ctx.session, visit, ctx.now)
        cancel_visit_reminders(ctx.session, visit.id or 0)
    touch(ctx.session, account)
    card = _coaching_card(ctx, account, visit, changes, follow_up)
    if deal_changes:
        card += "\n\n" + ctx.t("pipeline.debrief_deal", changes=deal_changes)
    return [Outgoing(card)]


def _ad_hoc_visit(ctx: Context, account: Account) -> Visit:
    """A visit nobody planned still took place: recorded so visits and debriefs stay comparable."""
    visit = Visit(
        owner_id=ctx.user.id or 0,
        account_id=account.id or 0,
        planned_at=ctx.now,
        status=DONE,
        objective=ctx.data.get("objective"),
        done_at=ctx.now,
    )
    return add_visit(ctx.session, visit)


def _improve_text(ctx: Context) -> str | None:
    """What to improve; after a continuation, led by the advance the rep could have asked for."""
    improve = ctx.data.get("improve")
    advance = _missed_advance(ctx)
    if not advance:
        return improve
    # Joined outside the template: stored text must not be HTML-escaped.
    lead = f"{ctx.t('debrief.advance_label')} {advance}"
    return f"{lead}\n{improve}" if improve else lead


def _happened_text(ctx: Context) -> str | None:
    """What happened; with the commitment the rep named when asked for one after an advance."""
    happened = ctx.data.get("happened")
    commitment = ctx.data.get("commitment") if _needs_commitment(ctx) else None
    if not commitment:
        return happened
    # Joined outside the template: stored text must not be HTML-escaped.
    lead = f"{ctx.t('debrief.commitment_label')} {commitment}"
    return f"{happened}\n{lead}" if happened else lead


def _next_step_at(ctx: Context) -> datetime | None:
    when = ctx.data.get("next_step_at") if ctx.data.get("next_step") else None
    return datetime.fromisoformat(str(when)).astimezone(UTC) if when else None


def _debrief_from_answers(ctx: Context, visit: Visit | None, account: Account) -> Debrief:
    data = ctx.data
    return Debrief(
        owner_id=ctx.user.id or 0,
        visit_id=visit.id if visit else None,
        account_id=account.id,
        feelings=data.get("feelings"),
        objective=data.get("objective"),
        plan=data.get("plan"),
        happened=_happened_text(ctx),
        why_customer=data.get("why_customer"),
        outcome=str(data["outcome"]),  # the rep's claim
        judged_outcome=judged_outcome(ctx),
        went_best=data.get("went_best"),
        improve=_improve_text(ctx),
        ratings=dict(data.get("ratings") or {}),
        next_step=data.get("next_step"),
        next_step_at=_next_step_at(ctx),
    )


def _add_next_step(ctx: Context, account: Account, debrief: Debrief) -> FollowUp | None:
    """The next step with a date becomes a follow-up, reminded when it is due."""
    if debrief.next_step is None or debrief.next_step_at is None:
        return None
    follow_up = add_follow_up(
        ctx.session,
        FollowUp(
            owner_id=ctx.user.id or 0,
            account_id=account.id,
            debrief_id=debrief.id,
            text=debrief.next_step[:MAX_NEXT_STEP],
            due_at=debrief.next_step_at,
            status="open",
        ),
    )
    schedule_follow_up(ctx.session, follow_up)
    return follow_up


def _apply_account_changes(ctx: Context, account: Account) -> list[dict[str, Any]]:
    """Update stage, opening and a contact's stance; each real change is kept in the history."""
    changes = [
        *_change_stage(ctx, account),
        *_change_opening(ctx, account),
        *_change_stance(ctx, account),
    ]
    ctx.session.add(account)
    return changes


def _change_stage(ctx: Context, account: Account) -> list[dict[str, Any]]:
    stages = ctx.playbooks.funnel_stages
    new = ctx.data.get("stage")
    if new not in stages or new == account.stage:
        return []
    old = account.stage
    record_change(ctx.session, account, ctx.user.id or 0, "stage", old, new)
    account.stage = new
    return [{"field": "stage", "old": stages.get(old), "new": stages[new]}]


def _change_opening(ctx: Context, account: Account) -> list[dict[str, Any]]:
    grid = ctx.playbooks.opening_grid
    territory, lead = ctx.data.get("territory"), ctx.data.get("lead")
    pair = (territory, lead)
    cell = next((item for item in grid.cells if (item.territory, item.lead) == pair), None)
    if cell is None or cell.letter == account.opening:
        return []
    old = account.opening
    record_change(ctx.session, account, ctx.user.id or 0, "opening", old, cell.letter)
    account.territory, account.lead, account.opening = cell.territory, cell.lead, cell.letter
    return [{"field": "opening", "old": old, "new": cell.letter}]


def _change_stance(ctx: Context, account: Account) -> list[dict[str, Any]]:
    stances = ctx.playbooks.stances
    contact = _contact_for_key(ctx, ctx.data.get("contact"))
    new = ctx.data.get("stance")
    if contact is None or new not in stances or new == contact.stance:
        return []
    old = contact.stance
    field = f"stance:{contact.id}"
    record_change(ctx.session, account, ctx.user.id or 0, field, old, new)
    contact.stance = new
    contact.updated_at = ctx.now
    ctx.session.add(contact)
    return [{"field": "stance", "name": contact.name, "old": stances.get(old), "new": stances[new]}]


# ----- the coaching card ------------------------------------------------------------


def _drill_table(ctx: Context) -> tuple[dict[str, str], str | None]:
    """The rating-item → drill mapping and the default drill, kept as data in the locale files."""
    prefix = "debrief.drill_for_item."
    strings = load_locale(ctx.user.language)
    by_item = {
        key[len(prefix) :]: str(value) for key, value in strings.items() if key.startswith(prefix)
    }
    default = strings.get("debrief.default_drill")
    return by_item, str(default) if default else None


def _objections_met(
    ctx: Context, visit: Visit | None, account: Account
) -> list[tuple[str, str | None]]:
    start = min(visit.planned_at, ctx.now) if visit else ctx.now
    logs = objections_met(
        ctx.session,
        ctx.user.id or 0,
        visit_id=visit.id if visit else None,
        account_id=account.id,
        since=start - OBJECTION_WINDOW,
    )
    return [(log.objection_type, log.outcome) for log in logs]


def objections_heard(ctx: Context) -> list[str]:
    """Objection types the debrief's account of the customer names, likeliest first.

    Only when the sale did not move (a continuation or no sale, as judged): that is when
    the customer's words held something back; after an advance they are read as no
    objection. Read with the local objection model (the card is written inside the
    answer's transaction, so no remote call); only confident readings count.
    """
    if judged_outcome(ctx) not in NUDGED_OUTCOMES:
        return []
    readings: dict[str, float] = {}
    for key in CUSTOMER_ANSWERS:
        text = ctx.data.get(key)
        if not text:
            continue
        try:
            reading = ctx.services.understanding.objection(str(text), backend="local")
        except NotUnderstood:
            continue
        if reading.confident and reading.label in ctx.playbooks.objections:
            readings[reading.label] = max(readings.get(reading.label, 0.0), reading.confidence)
    return sorted(readings, key=lambda label: -readings[label])


def _suggested_drill(ctx: Context, visit: Visit | None, account: Account, weak: str | None) -> Any:
    pb = ctx.playbooks
    item_drills, default = _drill_table(ctx)
    industries = {account.industry} if account.industry else None
    drill_id = suggest_drill(
        met=_objections_met(ctx, visit, account),
        heard=objections_heard(ctx),
        weak_item=weak,
        objection_drills=drills_by_objection(
            {key: objection.drill for key, objection in pb.objections.items()},
            {key: drill.objections for key, drill in pb.drills.items()},
        ),
        item_drills=item_drills,
        known_drills=[key for key in pb.drills if pb.drill_suits(key, industries)],
        default=default,
    )
    return pb.drills.get(drill_id or "")


def _ratings_view(ctx: Context) -> dict[str, Any]:
    """Strength and thing to work on: rated items if one stands out, else the rep's words."""
    ratings: dict[str, int] = dict(ctx.data.get("ratings") or {})
    items = {item.id: item for item in _rated_items(ctx)}
    strong, weak = strongest(ratings, list(items)), weakest(ratings, list(items))
    best_score = _scale(ctx)[0].score
    return {
        "strength": items[strong] if strong else None,
        "strength_score": ratings.get(strong or ""),
        "strength_level": items[strong].levels[ratings[strong]] if strong else None,
        "went_best": ctx.data.get("went_best"),
        "weakness": items[weak] if weak else None,
        "weakness_score": ratings.get(weak or ""),
        "target": items[weak].levels[best_score] if weak else None,  # what outstanding looks like
        "improve": ctx.data.get("improve"),
        "total": sum(ratings.values()) if len(ratings) == len(items) else None,
        "maximum": best_score * len(items),
    }


def _coaching_card(
    ctx: Context,
    account: Account,
    visit: Visit | None,
    changes: list[dict[str, Any]],
    follow_up: FollowUp | None,
) -> str:
    view = _ratings_view(ctx)
    weak = view["weakness"].id if view["weakness"] else None
    outcomes = ctx.playbooks.call_outcomes
    judged = judged_outcome(ctx)
    return ctx.t(
        "debrief.card",
        **view,
        account=account,
        outcome=outcomes.get(str(judged)),
        claimed=outcomes.get(str(ctx.data.get("outcome"))) if _downgraded(ctx) else None,
        continuation=judged == CONTINUATION,
        advance_instead=_missed_advance(ctx),
        drill=_suggested_drill(ctx, visit, account, weak),
        changes=changes,
        follow_up=follow_up,
        follow_up_when=ctx.format_when(follow_up.due_at) if follow_up else None,
        next_step=ctx.data.get("next_step"),
    )


DEBRIEF = Dialog(
    id="debrief",
    begin=_begin,
    finish=_finish,
    steps=(
        Step(
            id="visit",
            prompt="debrief.pick_visit",
            kind=AnswerKind.CHOICE,
            options=_visit_options,
            validate=_validate_visit,
            store=_store_visit,
            when=lambda ctx: not ctx.data.get(PRESET),
        ),
        replace(pick_account_step("debrief.pick_account"), when=_is_ad_hoc),
        *new_account_steps(),
        Step(
            id="feelings",
            prompt="debrief.ask_feelings",
            prompt_values=_asks("feelings", "feelings-how"),
        ),
        Step(
            id="objective",
            prompt="debrief.ask_objective",
            kind=AnswerKind.CHOICE,
            options=_objective_options,
            accepts_text=True,
            store=_store_objective,
            prompt_values=_objective_values,
        ),
        Step(id="plan", prompt="debrief.ask_plan", prompt_values=_plan_values),
        Step(
            id="happened",
            prompt="debrief.ask_happened",
            prompt_values=_asks("objective_plan_result", "result"),
        ),
        Step(
            id="why_customer",
            prompt="debrief.ask_why_customer",
            prompt_values=_asks("why_buyer", "why-customer", "why-customer-next"),
        ),
        Step(
            id="outcome",
            prompt="debrief.ask_outcome",
            kind=AnswerKind.CHOICE,
            options=_outcome_options,
            columns=2,
            prompt_values=_outcome_values,
        ),
        Step(
            id="commitment",
            prompt="debrief.ask_commitment",
            optional=True,
            max_length=MAX_COMMITMENT,
            when=_needs_commitment,
        ),
        Step(
            id="advance_instead",
            prompt="debrief.ask_advance_instead",
            when=_judged(CONTINUATION),
            prompt_values=_advance_instead_values,
        ),
        Step(
            id="went_best",
            prompt="debrief.ask_went_best",
            prompt_values=_asks("best_improve", "best"),
        ),
        Step(id="improve", prompt="debrief.ask_improve", prompt_values=_improve_values),
        *_rating_steps(),
        Step(
            id="stage",
            prompt="debrief.ask_stage",
            kind=AnswerKind.CHOICE,
            options=_stage_options,
            optional=True,
            columns=2,
            prompt_values=_stage_values,
        ),
        Step(
            id="territory",
            prompt="debrief.ask_territory",
            kind=AnswerKind.CHOICE,
            options=_territory_options,
            optional=True,
            prompt_values=_territory_values,
        ),
        Step(
            id="lead",
            prompt="debrief.ask_lead",
            kind=AnswerKind.CHOICE,
            options=_axis_options("leads"),
            when=_territory_changed,
            prompt_values=_lead_values,
        ),
        Step(
            id="contact",
            prompt="debrief.ask_contact",
            kind=AnswerKind.CHOICE,
            options=_contact_options,
            optional=True,
            columns=2,
            validate=_validate_contact,
            when=_has_contacts,
        ),
        Step(
            id="stance",
            prompt="debrief.ask_stance",
            kind=AnswerKind.CHOICE,
            options=_stance_options,
            columns=3,
            when=lambda ctx: ctx.data.get("contact") is not None and _has_contacts(ctx),
            prompt_values=_stance_values,
        ),
        # Only when the account has an open deal: did it move? Then what changed.
        *debrief_deal_steps(_account),
        Step(
            id="next_step",
            prompt="debrief.ask_next_step",
            optional=True,
            max_length=MAX_NEXT_STEP,
            prompt_values=_next_step_values,
        ),
        Step(
            id="next_step_at",
            prompt="debrief.ask_next_step_at",
            kind=AnswerKind.DATETIME,
            optional=True,
            validate=_in_future,
            when=lambda ctx: bool(ctx.data.get("next_step")),
        ),
    ),
)

DIALOGS = (DEBRIEF,)
COMMANDS = (Command("debrief", "commands.debrief", dialog="debrief"),)
