"""`/today`: the user's local day at a glance: visits, debriefs waiting, follow-ups due."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from babel.dates import format_datetime

from dialogs.core.io import Outgoing
from dialogs.core.steps import Command, Context, Dialog
from storage.accounts import get_account
from storage.debriefs import (
    debriefed_visit_ids,
    follow_ups_due_before,
    visits_awaiting_debrief,
    visits_between,
)
from storage.models import FollowUp, Visit

# Earlier visits still waiting for a debrief are listed this far back.
LOOKBACK = timedelta(days=14)
MAX_WAITING = 8


def local_day(ctx: Context) -> tuple[datetime, datetime]:
    """Start and end (UTC) of the user's current calendar day in their own zone."""
    today = ctx.now.astimezone(ctx.zone).date()
    start = datetime.combine(today, time(0), tzinfo=ctx.zone)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=ctx.zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _local_format(ctx: Context, moment: datetime, pattern_key: str) -> str:
    """A moment in the user's zone, with the locale's pattern, as their language writes it."""
    locale = "zh_CN" if ctx.user.language == "zh" else "en_GB"
    local = moment.astimezone(ctx.zone)
    return format_datetime(local, ctx.t(pattern_key), tzinfo=local.tzinfo, locale=locale)


def _clock(ctx: Context, moment: datetime) -> str:
    """Only the time of day, in the user's zone."""
    return _local_format(ctx, moment, "formats.time")


def _account_name(ctx: Context, account_id: int | None) -> str | None:
    account = get_account(ctx.session, ctx.user.id or 0, account_id) if account_id else None
    return account.name if account else None


def _visit_lines(ctx: Context, visits: list[Visit]) -> list[dict[str, Any]]:
    debriefed = debriefed_visit_ids(ctx.session, [visit.id for visit in visits if visit.id])
    return [
        {
            "time": _clock(ctx, visit.planned_at),
            "account": _account_name(ctx, visit.account_id) or "?",
            "objective": visit.objective,
            "debriefed": visit.id in debriefed,
            "past": visit.planned_at <= ctx.now,
        }
        for visit in visits
    ]


def _waiting_lines(ctx: Context, start: datetime) -> list[dict[str, Any]]:
    earlier = visits_awaiting_debrief(
        ctx.session, ctx.user.id or 0, start - LOOKBACK, start, limit=MAX_WAITING
    )
    return [
        {
            "when": ctx.format_when(visit.planned_at),
            "account": _account_name(ctx, visit.account_id) or "?",
        }
        for visit in earlier
    ]


def _follow_up_lines(ctx: Context, follow_ups: list[FollowUp], start: datetime) -> list[Any]:
    return [
        {
            "text": item.text,
            "account": _account_name(ctx, item.account_id),
            "overdue": item.due_at < ctx.now,
            # Due earlier today reads as a time; due on an earlier day needs the date.
            "when": _clock(ctx, item.due_at)
            if item.due_at >= start
            else ctx.format_when(item.due_at),
        }
        for item in follow_ups
    ]


def show_today(ctx: Context, _args: str) -> list[Outgoing]:
    """/today."""
    start, end = local_day(ctx)
    visits = _visit_lines(ctx, visits_between(ctx.session, ctx.user.id or 0, start, end))
    waiting = _waiting_lines(ctx, start)
    follow_ups = _follow_up_lines(
        ctx, follow_ups_due_before(ctx.session, ctx.user.id or 0, end), start
    )
    if not (visits or waiting or follow_ups):
        return [Outgoing(ctx.t("today.empty"))]
    needs_debrief = bool(waiting) or any(v["past"] and not v["debriefed"] for v in visits)
    return [
        Outgoing(
            ctx.t(
                "today.agenda",
                day=_local_format(ctx, ctx.now, "today.day_format"),
                visits=visits,
                waiting=waiting,
                follow_ups=follow_ups,
                needs_debrief=needs_debrief,
            )
        )
    ]


DIALOGS: tuple[Dialog, ...] = ()
COMMANDS = (Command("today", "commands.today", run=show_today),)
