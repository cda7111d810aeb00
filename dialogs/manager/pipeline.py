"""The team's pipeline as a manager forecasts from it: value by stage, the weighted forecast
for this and next month with why it changed since last week, and the deals at risk.

Probabilities and risk thresholds come from the playbook (pipeline.yaml); the
deals and their history from storage.opportunities. The same figures feed the
weekly digest and `salescoach pipeline`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal

from sqlmodel import Session

from playbooks.schema import Pipeline, Playbooks
from storage.opportunities import LOST, OPEN, WON, AccountSigns, Deal, DealState, account_signs
from storage.opportunities import team_deals as load_team_deals

WEEK = timedelta(days=7)
REASONS = ("won", "lost", "slipped", "moved", "new")
RISKS = (
    "close_passed",
    "opponent",
    "unknown_chain",
    "no_decision_maker",
    "no_next_step",
    "next_step_overdue",
    "no_visit",
    "stuck",
)


@dataclass(frozen=True)
class StageTotal:
    """Open deals in one stage: how many, their value, and their value weighted by probability."""

    stage: str
    probability: int
    deals: int
    value: int
    weighted: int


@dataclass
class Movement:
    """Why the forecast changed: the deals behind one reason and what they added or took away."""

    reason: str
    change: int = 0
    accounts: list[str] = field(default_factory=list)


@dataclass
class Forecast:
    """One currency's pipeline: by stage, and the forecast for two months, now and a week ago."""

    currency: str
    stages: list[StageTotal]
    this_month: int
    next_month: int
    this_month_before: int
    next_month_before: int
    movements: list[Movement]

    @property
    def open_value(self) -> int:
        """The value of every open deal, unweighted."""
        return sum(stage.value for stage in self.stages)


@dataclass(frozen=True)
class AtRisk:
    """An open deal and every reason it needs attention."""

    deal_id: int
    account: str
    value: int
    currency: str
    stage: str
    close_month: date
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RepRisks:
    """One rep's deals at risk, largest first."""

    owner_id: int
    name: str
    deals: list[AtRisk]


@dataclass(frozen=True)
class PipelineView:
    """Everything the digest and the CLI show about a team's pipeline at one moment."""

    as_of: datetime
    this_month: date
    next_month: date
    forecasts: list[Forecast]
    at_risk: list[RepRisks]
    deals: int  # open deals
    rows: list[Deal] = field(default_factory=list)  # every deal read, for a spreadsheet

    def risks(self, deal_id: int) -> tuple[str, ...]:
        """Why the deal is at risk; empty when it is not (or is closed)."""
        for rep in self.at_risk:
            for deal in rep.deals:
                if deal.deal_id == deal_id:
                    return deal.reasons
        return ()

    @property
    def empty(self) -> bool:
        """No deal has been recorded (or none is open and none moved in the week)."""
        return not self.forecasts

    @property
    def moved(self) -> bool:
        """Some deal was added, moved, won, lost or slipped in the week."""
        return any(row.changed or row.before is None for row in self.rows)


def month_start(moment: datetime, zone: tzinfo) -> date:
    """The first day of the month `moment` falls in, seen from `zone`."""
    local = moment.astimezone(zone).date()
    return local.replace(day=1)


def following_month(month: date) -> date:
    """The first day of the next month."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _weighted(value: int, probability: int) -> Decimal:
    return Decimal(value) * probability / 100


def _whole(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def forecast_of(state: DealState | None, month: date, pipeline: Pipeline) -> Decimal:
    """What one deal adds to a month's forecast: all of it once won, else value × probability."""
    if state is None or state.close_month != month or state.status == LOST:
        return Decimal(0)
    if state.status == WON:
        return Decimal(state.value_minor)
    return _weighted(state.value_minor, pipeline.probability(state.stage))


def reason_for(deal: Deal) -> str:
    """Why a deal's contribution to the forecast changed since last week."""
    before, now = deal.before, deal.now
    if before is None:
        return "new"
    if now.status == WON and before.status != WON:
        return "won"
    if now.status == LOST and before.status != LOST:
        return "lost"
    if now.close_month > before.close_month:
        return "slipped"
    return "moved"


def _forecast(
    currency: str, deals: list[Deal], months: tuple[date, date], pipeline: Pipeline
) -> Forecast:
    stages = []
    for stage in pipeline.open_stages:
        in_stage = [d for d in deals if d.now.status == OPEN and d.now.stage == stage]
        value = sum(d.now.value_minor for d in in_stage)
        probability = pipeline.probability(stage)
        stages.append(
            StageTotal(
                stage=stage,
                probability=probability,
                deals=len(in_stage),
                value=value,
                weighted=_whole(_weighted(value, probability)),
            )
        )
    totals = {"now": [Decimal(0), Decimal(0)], "before": [Decimal(0), Decimal(0)]}
    movements = {reason: Movement(reason) for reason in REASONS}
    changes: dict[str, Decimal] = defaultdict(Decimal)
    for deal in deals:
        now = [forecast_of(deal.now, month, pipeline) for month in months]
        before = [forecast_of(deal.before, month, pipeline) for month in months]
        for index in range(2):
            totals["now"][index] += now[index]
            totals["before"][index] += before[index]
        delta = sum(now) - sum(before)
        if delta:
            reason = reason_for(deal)
            changes[reason] += delta
            movements[reason].accounts.append(deal.account)
    for reason, amount in changes.items():
        movements[reason].change = _whole(amount)
    return Forecast(
        currency=currency,
        stages=stages,
        this_month=_whole(totals["now"][0]),
        next_month=_whole(totals["now"][1]),
        this_month_before=_whole(totals["before"][0]),
        next_month_before=_whole(totals["before"][1]),
        movements=[movement for movement in movements.values() if movement.accounts],
    )


def risks_of(
    deal: Deal,
    signs: AccountSigns,
    *,
    as_of: datetime,
    this_month: date,
    pipeline: Pipeline,
) -> tuple[str, ...]:
    """Every reason an open deal is at risk, in the order a manager should read them."""
    risk = pipeline.risk
    found = {
        "close_passed": deal.now.close_month < this_month,
        "opponent": signs.opponents > 0,
        "unknown_chain": signs.contacts == 0 or signs.decision_maker_neutral,
        "no_decision_maker": not signs.decision_maker_met,
        "no_next_step": signs.open_next_steps == 0,
        "next_step_overdue": signs.overdue_next_steps > 0,
        "no_visit": deal.value_class in risk.no_visit_value_classes
        and (
            signs.last_visit is None
            or signs.last_visit < as_of - timedelta(days=risk.no_visit_days)
        ),
        "stuck": deal.stage_entered_at < as_of - timedelta(weeks=risk.stuck_weeks),
    }
    return tuple(name for name in RISKS if found[name])


def _at_risk(
    deals: list[Deal],
    signs: dict[int, AccountSigns],
    *,
    as_of: datetime,
    this_month: date,
    pipeline: Pipeline,
) -> list[RepRisks]:
    by_rep: dict[int, RepRisks] = {}
    for deal in deals:
        if deal.now.status != OPEN:
            continue
        reasons = risks_of(
            deal,
            signs.get(deal.account_id, AccountSigns()),
            as_of=as_of,
            this_month=this_month,
            pipeline=pipeline,
        )
        if not reasons:
            continue
        rep = by_rep.setdefault(deal.owner_id, RepRisks(deal.owner_id, deal.owner, []))
        rep.deals.append(
            AtRisk(
                deal_id=deal.id,
                account=deal.account,
                value=deal.now.value_minor,
                currency=deal.now.currency,
                stage=deal.now.stage,
                close_month=deal.now.close_month,
                reasons=reasons,
            )
        )
    for rep in by_rep.values():
        rep.deals.sort(key=lambda item: (-item.value, item.account))
    return sorted(by_rep.values(), key=lambda rep: (rep.name, rep.owner_id))


def pipeline_view(
    session: Session,
    team_id: int,
    *,
    as_of: datetime,
    zone: tzinfo,
    playbooks: Playbooks,
) -> PipelineView:
    """The team's pipeline at `as_of`, compared with a week earlier, months in `zone`."""
    pipeline = playbooks.pipeline
    deals = load_team_deals(session, team_id, as_of, as_of - WEEK)
    this_month = month_start(as_of, zone)
    months = (this_month, following_month(this_month))
    currencies = sorted({deal.now.currency for deal in deals})
    forecasts = [
        _forecast(currency, [d for d in deals if d.now.currency == currency], months, pipeline)
        for currency in currencies
    ]
    open_deals = [deal for deal in deals if deal.now.status == OPEN]
    signs = account_signs(session, [deal.account_id for deal in open_deals], as_of)
    return PipelineView(
        as_of=as_of,
        this_month=months[0],
        next_month=months[1],
        forecasts=forecasts,
        at_risk=_at_risk(deals, signs, as_of=as_of, this_month=this_month, pipeline=pipeline),
        deals=len(open_deals),
        rows=deals,
    )
