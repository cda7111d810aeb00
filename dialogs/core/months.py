"""Close months typed by people: "2027-03", "3月", "next month", "Q2", "March", "下个月底".

A month is the first day of that month. Words the rules below do not cover
go to the shared time-expression reader (dialogs/core/dates.py), whose
moment's month is taken. A month already over is refused; this month is fine.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from dialogs.core.dates import Outcome, Reason, read_when

HORIZON_YEARS = 5
_ZH_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_EN_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_YEAR_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?(?:份)?(?:底|末|初|中)?$")
_MONTH_YEAR = re.compile(r"^(\d{1,2})\s*/\s*(\d{4})$")
_ZH_MONTH = re.compile(r"^(今年|明年)?\s*(\d{1,2})\s*月(?:份)?(?:底|末|初|中|中旬|上旬|下旬)?$")
_EN_MONTH = re.compile(r"^(?:(?:end|start|beginning|middle|mid)\s+of\s+)?([a-z]+)\.?,?\s*(\d{4})?$")
_QUARTER = re.compile(
    r"^(?:(\d{4})\s*年?\s*)?(?:q\s*([1-4])|第?([一二三四1-4])\s*季度)(?:\s*(?:of\s*)?(\d{4}))?$"
)
_THIS_MONTH = {
    "this month",
    "本月",
    "这个月",
    "本月底",
    "这个月底",
    "月底",
    "end of this month",
    "end of the month",
}
_NEXT_MONTH = {"next month", "下个月", "下月", "下个月底", "下月底", "end of next month"}
_THIS_QUARTER = {
    "this quarter",
    "本季度",
    "这个季度",
    "本季",
    "end of this quarter",
    "季度末",
    "本季度末",
}
_NEXT_QUARTER = {"next quarter", "下季度", "下个季度", "下一季度"}


@dataclass(frozen=True)
class ReadMonth:
    """A month read from text (its first day), or the locale key of why not."""

    month: date | None = None
    error: str | None = None


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _quarter_end(year: int, quarter: int) -> date:
    return date(year, quarter * 3, 1)


def _upcoming(month_number: int, today: date) -> date:
    """The month with this number this year, or next year when it is already over."""
    this_year = date(today.year, month_number, 1)
    return this_year if this_year >= today.replace(day=1) else date(today.year + 1, month_number, 1)


def _rules(text: str, today: date) -> date | str | None:
    """The month the fixed forms name; None when no rule applies; an error key when invalid."""
    this_month = today.replace(day=1)
    if text in _THIS_MONTH:
        return this_month
    if text in _NEXT_MONTH:
        return _add_months(this_month, 1)
    quarter_now = (today.month - 1) // 3 + 1
    if text in _THIS_QUARTER:
        return _quarter_end(today.year, quarter_now)
    if text in _NEXT_QUARTER:
        return _add_months(_quarter_end(today.year, quarter_now), 3)
    if match := _YEAR_MONTH.match(text):
        year, month = int(match.group(1)), int(match.group(2))
        return date(year, month, 1) if 1 <= month <= 12 else "pipeline.month_invalid"
    if match := _MONTH_YEAR.match(text):
        month, year = int(match.group(1)), int(match.group(2))
        return date(year, month, 1) if 1 <= month <= 12 else "pipeline.month_invalid"
    if match := _ZH_MONTH.match(text):
        month = int(match.group(2))
        if not 1 <= month <= 12:
            return "pipeline.month_invalid"
        if match.group(1) == "明年":
            return date(today.year + 1, month, 1)
        return date(today.year, month, 1) if match.group(1) else _upcoming(month, today)
    if match := _QUARTER.match(text):
        quarter = int(match.group(2) or _ZH_DIGITS[match.group(3)])
        year_text = match.group(1) or match.group(4)
        if year_text:
            return _quarter_end(int(year_text), quarter)
        end = _quarter_end(today.year, quarter)
        return end if end >= this_month else _quarter_end(today.year + 1, quarter)
    if (match := _EN_MONTH.match(text)) and match.group(1) in _EN_MONTHS:
        month = _EN_MONTHS[match.group(1)]
        year_text = match.group(2)
        return date(int(year_text), month, 1) if year_text else _upcoming(month, today)
    return None


def read_month(text: str, zone: tzinfo, *, now: datetime, language: str) -> ReadMonth:
    """The close month `text` names, seen from `now` in `zone`."""
    folded = " ".join(unicodedata.normalize("NFKC", text).strip().casefold().split())
    if not folded:
        return ReadMonth(error="pipeline.month_unreadable")
    today = now.astimezone(zone).date()
    found = _rules(folded, today)
    if found is None:
        when = read_when(folded, zone, now=now, language=language, horizon_years=HORIZON_YEARS)
        moment = when.moment if when.outcome is Outcome.OK or when.reason is Reason.PAST else None
        if moment is None:
            return ReadMonth(error="pipeline.month_unreadable")
        found = date(moment.year, moment.month, 1)
    if isinstance(found, str):
        return ReadMonth(error=found)
    if found < today.replace(day=1):
        return ReadMonth(error="pipeline.month_past")
    if found.year > today.year + HORIZON_YEARS:
        return ReadMonth(error="pipeline.month_too_far")
    return ReadMonth(found)
