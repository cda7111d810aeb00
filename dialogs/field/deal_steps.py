"""The deal on an account, asked in a step or two: its value and close month in /account,
and in /debrief only when something moved (one yes/no, then stage, value, close month).

Amounts and months are read by dialogs.core.money and dialogs.core.months;
a refusal says what would be understood, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from babel.dates import format_date

from dialogs.core.money import format_money, read_amount
from dialogs.core.months import read_month
from dialogs.core.steps import AnswerKind, Context, Option, Step
from storage.models import Account, Opportunity
from storage.opportunities import add_opportunity, open_opportunity, update_opportunity

# Finds the account the dialog is about (None while it is still a new one).
AccountOf = Callable[[Context], Account | None]
Validator = Callable[[Context, Any], str | None]
Store = Callable[[Context, Any], None]

MAX_AMOUNT_TEXT = 60
MAX_MONTH_TEXT = 60
UNCHANGED = "same"
LOST = "lost"


# ----- reading answers ----------------------------------------------------------------


def _currency(ctx: Context, deal: Opportunity | None) -> str:
    return deal.currency if deal is not None else ctx.playbooks.pipeline.currency


def validate_amount(account_of: AccountOf) -> Validator:
    """A validator: the text must be an amount."""

    def validate(ctx: Context, value: Any) -> str | None:
        return read_amount(str(value), _currency(ctx, _deal(ctx, account_of))).error

    return validate


def store_amount(account_of: AccountOf, key: str) -> Store:
    """Keep the amount as {"minor", "currency"}; a skipped answer as None."""

    def store(ctx: Context, value: Any) -> None:
        if value is None:
            ctx.data[key] = None
            return
        default_currency = _currency(ctx, _deal(ctx, account_of))
        read = read_amount(str(value), default_currency)
        assert read.money is not None  # validated before
        currency = read.money.currency or default_currency
        ctx.data[key] = {"minor": read.money.minor, "currency": currency}

    return store


def validate_month(ctx: Context, value: Any) -> str | None:
    """A validator: the text must name a month not yet over."""
    return read_month(str(value), ctx.zone, now=ctx.now, language=ctx.user.language).error


def store_month(key: str) -> Store:
    """Keep the month as an ISO date (its first day); a skipped answer as None."""

    def store(ctx: Context, value: Any) -> None:
        if value is None:
            ctx.data[key] = None
            return
        month = read_month(str(value), ctx.zone, now=ctx.now, language=ctx.user.language).month
        assert month is not None  # validated before
        ctx.data[key] = month.isoformat()

    return store


def _month(value: Any) -> date | None:
    return date.fromisoformat(str(value)) if value else None


# ----- showing a deal -----------------------------------------------------------------


def _deal(ctx: Context, account_of: AccountOf) -> Opportunity | None:
    account = account_of(ctx)
    return open_opportunity(ctx.session, account.id or 0) if account is not None else None


def month_label(ctx: Context, month: date) -> str:
    """A month as the reader writes it."""
    locale = "zh_CN" if ctx.user.language == "zh" else "en_GB"
    return format_date(month, ctx.t("pipeline.month_format"), locale=locale)


def _stage_label(ctx: Context, stage_id: str) -> str:
    stage = ctx.playbooks.funnel_stages.get(stage_id)
    return ctx.local(stage.label) if stage else stage_id


def deal_summary(ctx: Context, deal: Opportunity) -> dict[str, Any]:
    """The deal's value, stage, month and probability, ready for a template."""
    return {
        "value": format_money(deal.value_minor, deal.currency, ctx.user.language),
        "stage": _stage_label(ctx, deal.stage),
        "month": month_label(ctx, deal.close_month),
        "probability": ctx.playbooks.pipeline.probability(deal.stage),
        "status": deal.status,
        "status_label": ctx.t(f"pipeline.status_{deal.status}") if deal.status != "open" else "",
    }


def deal_line(ctx: Context, account: Account) -> str:
    """The account card's deal line, or nothing when there is no open deal."""
    deal = open_opportunity(ctx.session, account.id or 0)
    return ctx.t("pipeline.card_deal", **deal_summary(ctx, deal)) if deal else ""


# ----- /account: value, then the close month of a new deal ----------------------------


def month_step(
    step_id: str,
    prompt: str,
    prompt_values: Callable[[Context], dict[str, Any]],
    when: Callable[[Context], bool],
    *,
    optional: bool = True,
) -> Step:
    """A step asking the deal's close month, kept in ctx.data["deal_close"]."""
    return Step(
        id=step_id,
        prompt=prompt,
        optional=optional,
        max_length=MAX_MONTH_TEXT,
        validate=validate_month,
        store=store_month("deal_close"),
        prompt_values=prompt_values,
        when=when,
    )


def account_deal_steps(account_of: AccountOf) -> tuple[Step, ...]:
    """Two steps after the account's scores: the deal's value, and when it should close."""

    def has_deal(ctx: Context) -> bool:
        return _deal(ctx, account_of) is not None

    def value_values(ctx: Context) -> dict[str, Any]:
        deal = _deal(ctx, account_of)
        stage = str(ctx.data.get("stage") or "")
        return {
            "current": deal_summary(ctx, deal) if deal else None,
            "stage": _stage_label(ctx, stage),
            "probability": ctx.playbooks.pipeline.probability(stage),
        }

    def close_values(ctx: Context) -> dict[str, Any]:
        deal = _deal(ctx, account_of)
        return {"current": month_label(ctx, deal.close_month) if deal else None}

    return (
        Step(
            id="deal_value",
            prompt="pipeline.ask_deal_value",
            optional=True,
            max_length=MAX_AMOUNT_TEXT,
            validate=validate_amount(account_of),
            store=store_amount(account_of, "deal_value"),
            prompt_values=value_values,
        ),
        month_step(
            "deal_close",
            "pipeline.ask_deal_close",
            close_values,
            lambda ctx: not has_deal(ctx) and bool(ctx.data.get("deal_value")),
            optional=False,
        ),
        month_step("deal_close_update", "pipeline.ask_deal_close", close_values, has_deal),
    )


def save_account_deal(ctx: Context, account: Account) -> list[str]:
    """Create the account's deal, or update it (its stage follows the account's)."""
    pipeline = ctx.playbooks.pipeline
    value, month = ctx.data.get("deal_value"), _month(ctx.data.get("deal_close"))
    stage = str(ctx.data.get("stage") or "")
    deal = open_opportunity(ctx.session, account.id or 0)
    if deal is None:
        if not value or month is None:
            return []
        add_opportunity(
            ctx.session,
            account,
            ctx.user.id or 0,
            value_minor=int(value["minor"]),
            currency=str(value["currency"]),
            close_month=month,
            stage=stage,
            now=ctx.now,
            won_stage=pipeline.won_stage,
        )
        return ["created"]
    return update_opportunity(
        ctx.session,
        deal,
        ctx.user.id or 0,
        now=ctx.now,
        won_stage=pipeline.won_stage,
        value_minor=int(value["minor"]) if value else None,
        currency=str(value["currency"]) if value else None,
        close_month=month,
        stage=stage if stage in ctx.playbooks.funnel_stages else None,
    )


# ----- /debrief: did the deal move? ---------------------------------------------------


def debrief_deal_steps(account_of: AccountOf) -> tuple[Step, ...]:
    """One yes/no when the account has an open deal; on yes, its stage, value and month."""

    def has_deal(ctx: Context) -> bool:
        return _deal(ctx, account_of) is not None

    def moved(ctx: Context) -> bool:
        return bool(ctx.data.get("deal_moved")) and has_deal(ctx)

    def still_open(ctx: Context) -> bool:
        stage = ctx.data.get("deal_stage")
        return moved(ctx) and stage not in (LOST, ctx.playbooks.pipeline.won_stage)

    def summary(ctx: Context) -> dict[str, Any]:
        deal = _deal(ctx, account_of)
        account = account_of(ctx)
        values = deal_summary(ctx, deal) if deal else {}
        return {**values, "account": account.name if account else ""}

    def stage_options(ctx: Context) -> list[Option]:
        deal = _deal(ctx, account_of)
        stages = [
            Option(item.stage, _stage_label(ctx, item.stage), literal=True)
            for item in ctx.playbooks.pipeline.stages
            if deal is None or item.stage != deal.stage
        ]
        return [
            *stages,
            Option(LOST, "pipeline.deal_lost"),
            Option(UNCHANGED, "pipeline.deal_unchanged_stage"),
        ]

    return (
        Step(
            id="deal_moved",
            prompt="pipeline.ask_deal_moved",
            kind=AnswerKind.YES_NO,
            when=has_deal,
            prompt_values=summary,
        ),
        Step(
            id="deal_stage",
            prompt="pipeline.ask_deal_stage",
            kind=AnswerKind.CHOICE,
            options=stage_options,
            columns=2,
            when=moved,
        ),
        Step(
            id="deal_value_update",
            prompt="pipeline.ask_deal_value_update",
            optional=True,
            max_length=MAX_AMOUNT_TEXT,
            validate=validate_amount(account_of),
            store=store_amount(account_of, "deal_value"),
            prompt_values=summary,
            when=lambda ctx: moved(ctx) and ctx.data.get("deal_stage") != LOST,
        ),
        month_step("deal_close_month", "pipeline.ask_deal_close_update", summary, still_open),
    )


def save_debrief_deal(ctx: Context, account: Account) -> list[str]:
    """Apply what the rep said moved; the lines for the coaching card."""
    deal = open_opportunity(ctx.session, account.id or 0)
    moved = bool(ctx.data.get("deal_moved"))
    stage = ctx.data.get("deal_stage") if moved else None
    if stage is None:
        # The account moved in the funnel earlier in this debrief: its deal moves with it,
        # unless the rep said where the deal stands (even "unchanged").
        stage = ctx.data.get("stage")
    if deal is None or (not moved and stage not in ctx.playbooks.funnel_stages):
        return []
    pipeline = ctx.playbooks.pipeline
    language = ctx.user.language
    before = (deal.stage, deal.value_minor, deal.currency, deal.close_month)
    value = ctx.data.get("deal_value") if moved else None
    changed = update_opportunity(
        ctx.session,
        deal,
        ctx.user.id or 0,
        now=ctx.now,
        won_stage=pipeline.won_stage,
        value_minor=int(value["minor"]) if value else None,
        currency=str(value["currency"]) if value else None,
        close_month=_month(ctx.data.get("deal_close")) if moved else None,
        stage=str(stage) if stage in ctx.playbooks.funnel_stages else None,
        lost=stage == LOST,
    )
    lines = []
    if "stage" in changed:
        old, new = _stage_label(ctx, before[0]), _stage_label(ctx, deal.stage)
        lines.append(ctx.t("pipeline.change_stage", old=old, new=new))
    if "value" in changed:
        old_value = format_money(before[1], before[2], language)
        new_value = format_money(deal.value_minor, deal.currency, language)
        lines.append(ctx.t("pipeline.change_value", old=old_value, new=new_value))
    if "close_month" in changed and deal.status != "won":
        old_month, new_month = month_label(ctx, before[3]), month_label(ctx, deal.close_month)
        lines.append(ctx.t("pipeline.change_close_month", old=old_month, new=new_month))
    if "status" in changed:
        lines.append(ctx.t(f"pipeline.change_{deal.status}"))
    return lines
