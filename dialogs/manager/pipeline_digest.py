"""The digest's pipeline sections: forecast and why it moved, deals at risk, drills owed,
claims the coach judged otherwise, and next week's planned visits, as Telegram HTML."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime

from dialogs.core.money import format_money
from dialogs.core.texts import Texts
from dialogs.manager.pipeline import Forecast, PipelineView
from playbooks.schema import Playbooks
from storage.digest_queries import FollowThrough

MAX_RISKS_PER_REP = 3  # the largest; a phone screen per rep at most
MAX_ACCOUNTS_PER_REASON = 3
MAX_LINES = 12  # drills owed, judged calls, planned visits: a list a phone shows at a glance


@lru_cache(maxsize=4)
def _babel_locale(language: str) -> Locale:
    return Locale.parse("zh_CN" if language == "zh" else "en_GB")


def _locale(t: Texts) -> Locale:
    return _babel_locale(t.language)


def month_label(month: date, t: Texts) -> str:
    """A month as a reader writes it: "Mar 2027", "2027年3月"."""
    return _month_label(month, t.language)


@lru_cache(maxsize=512)
def _month_label(month: date, language: str) -> str:
    t = Texts(language)
    return format_date(month, t("pipeline.month_format"), locale=_babel_locale(language))


def _stage_label(stage_id: str, t: Texts, playbooks: Playbooks) -> str:
    stage = playbooks.funnel_stages.get(stage_id)
    return stage.label.get(t.language) if stage else stage_id


def _change(now: int, before: int, currency: str, t: Texts) -> str:
    if now == before:
        return t("pipeline.change_same")
    amount = format_money(abs(now - before), currency, t.language)
    return t("pipeline.change_up" if now > before else "pipeline.change_down", amount=amount)


def _signed(amount: int, currency: str, t: Texts) -> str:
    text = format_money(abs(amount), currency, t.language)
    return f"+{text}" if amount >= 0 else f"−{text}"


def _accounts(names: list[str], t: Texts) -> str:
    shown = ", ".join(dict.fromkeys(names[:MAX_ACCOUNTS_PER_REASON]))
    rest = len(names) - MAX_ACCOUNTS_PER_REASON
    return shown + (f", {t('pipeline.more_accounts', count=rest)}" if rest > 0 else "")


def _forecast_view(forecast: Forecast, t: Texts, playbooks: Playbooks) -> dict[str, Any]:
    money = forecast.currency
    return {
        "currency": money,
        "stages": [
            {
                "label": _stage_label(stage.stage, t, playbooks),
                "probability": stage.probability,
                "deals": stage.deals,
                "value": format_money(stage.value, money, t.language),
                "weighted": format_money(stage.weighted, money, t.language),
            }
            for stage in forecast.stages
        ],
        "this_month": format_money(forecast.this_month, money, t.language),
        "next_month": format_money(forecast.next_month, money, t.language),
        "this_change": _change(forecast.this_month, forecast.this_month_before, money, t),
        "next_change": _change(forecast.next_month, forecast.next_month_before, money, t),
        "movements": [
            {
                "label": t(f"pipeline.reason_{movement.reason}"),
                "change": _signed(movement.change, money, t),
                "accounts": _accounts(movement.accounts, t),
            }
            for movement in forecast.movements
        ],
    }


def forecast_section(view: PipelineView, t: Texts, playbooks: Playbooks) -> str:
    """Pipeline value by stage, the weighted forecast for two months, and why it changed."""
    if view.empty:
        return t("pipeline.digest_empty")
    return t(
        "pipeline.digest_pipeline",
        deals=view.deals,
        this_month=month_label(view.this_month, t),
        next_month=month_label(view.next_month, t),
        forecasts=[_forecast_view(forecast, t, playbooks) for forecast in view.forecasts],
    )


def risk_text(reasons: tuple[str, ...], t: Texts, playbooks: Playbooks) -> str:
    """The reasons a deal is at risk, in the reader's language."""
    risk = playbooks.pipeline.risk
    return _risk_text(reasons, t.language, risk.no_visit_days, risk.stuck_weeks)


@lru_cache(maxsize=1024)
def _risk_text(reasons: tuple[str, ...], language: str, days: int, weeks: int) -> str:
    """Rendered once per combination: a big team's digest has many deals with the same."""
    t = Texts(language)
    separator = "、" if language == "zh" else ", "
    return separator.join(
        t(f"pipeline.risk_{reason}", days=days, weeks=weeks) for reason in reasons
    )


def at_risk_section(view: PipelineView, t: Texts, playbooks: Playbooks) -> str:
    """Per rep, their open deals that show a warning sign, with every reason."""
    if view.empty:
        return ""
    reps = [
        {
            "name": rep.name,
            "deals": [
                {
                    "account": deal.account,
                    "value": format_money(deal.value, deal.currency, t.language),
                    "stage": _stage_label(deal.stage, t, playbooks),
                    "month": month_label(deal.close_month, t),
                    "reasons": risk_text(deal.reasons, t, playbooks),
                }
                for deal in rep.deals[:MAX_RISKS_PER_REP]
            ],
            "more": max(len(rep.deals) - MAX_RISKS_PER_REP, 0),
        }
        for rep in view.at_risk
    ]
    return t("pipeline.digest_at_risk", reps=reps)


def _when(moment: datetime, zone: tzinfo, t: Texts) -> str:
    return format_datetime(
        moment.astimezone(zone), t("pipeline.when_format"), tzinfo=zone, locale=_locale(t)
    )


def follow_through_sections(
    follow: FollowThrough, t: Texts, playbooks: Playbooks, zone: tzinfo
) -> list[str]:
    """Drills assigned and not done, calls judged otherwise than claimed, next week's visits."""
    sections = []
    if follow.assignments:
        items = []
        for item in follow.assignments[:MAX_LINES]:
            drill = playbooks.drills.get(item.scenario_id)
            items.append(
                {
                    "name": item.name,
                    "drill": drill.title.get(t.language) if drill else item.scenario_id,
                    "due": format_date(
                        item.due_at.astimezone(zone), t("digest.date_format"), locale=_locale(t)
                    ),
                    "overdue": item.overdue,
                }
            )
        more = len(follow.assignments) - len(items)
        sections.append(t("pipeline.digest_drills_owed", items=items, more=more))
    if follow.judged_differently:
        outcomes = playbooks.call_outcomes

        def label(outcome: str) -> str:
            item = outcomes.get(outcome)
            return item.label.get(t.language) if item else outcome

        judged = [
            {
                "name": item.name,
                "account": item.account,
                "claimed": label(item.claimed),
                "judged": label(item.judged),
            }
            for item in follow.judged_differently[:MAX_LINES]
        ]
        more = len(follow.judged_differently) - len(judged)
        sections.append(t("pipeline.digest_judged", items=judged, more=more))
    planned = [
        {"when": _when(item.planned_at, zone, t), "name": item.name, "account": item.account}
        for item in follow.planned_visits[:MAX_LINES]
    ]
    total = len(follow.planned_visits)
    if planned:
        sections.append(
            t("pipeline.digest_next_week", items=planned, total=total, more=total - len(planned))
        )
    else:
        sections.append(t("pipeline.digest_next_week_none"))
    return sections


def pipeline_sections(
    view: PipelineView | None,
    follow: FollowThrough | None,
    t: Texts,
    playbooks: Playbooks,
    zone: tzinfo,
) -> list[str]:
    """Every pipeline and follow-through section of the digest, in reading order."""
    sections = []
    if view is not None:
        sections += [forecast_section(view, t, playbooks), at_risk_section(view, t, playbooks)]
    if follow is not None:
        sections += follow_through_sections(follow, t, playbooks, zone)
    return [section for section in sections if section]
