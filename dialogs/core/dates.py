"""Free-text dates and times in Chinese or English, read in the user's time zone.

dateparser does the parsing. It reads "明天 15:00" but not the spoken forms
Chinese users type ("明天下午三点", "下周二上午十点半"), so those are first
rewritten into forms it reads; the rewriting is grammar, not user-facing text.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import dateparser

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
           "七": 7, "八": 8, "九": 9}  # fmt: skip
_WEEKDAYS = {"一": "monday", "二": "tuesday", "三": "wednesday", "四": "thursday",
             "五": "friday", "六": "saturday", "日": "sunday", "天": "sunday"}  # fmt: skip
_WEEKDAY_INDEX = {name: index for index, name in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}  # fmt: skip
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十]+")
_AFTERNOON = "下午|晚上|傍晚|今晚|晚"
_MORNING = "上午|早上|早晨|凌晨|清晨|早"


def _chinese_number(token: str) -> str:
    """Convert a Chinese numeral up to 99 into digits; leave anything else as it was."""
    if "十" not in token:
        if all(char in _DIGITS for char in token):
            return "".join(str(_DIGITS[char]) for char in token)
        return token
    tens_part, _, units_part = token.partition("十")
    if len(tens_part) > 1 or len(units_part) > 1:
        return token
    tens = _DIGITS.get(tens_part, 1) if tens_part else 1
    units = _DIGITS.get(units_part, 0) if units_part else 0
    return str(tens * 10 + units)


def _next_week(today: date, weekday: str) -> str:
    """下周X is that weekday in the calendar week after this one, not the next one to come."""
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    day = monday + timedelta(days=_WEEKDAY_INDEX[weekday])
    return f" {day.day} {_MONTHS[day.month - 1]} {day.year} "


def _rewrite_chinese(text: str, today: date) -> str:
    # Weekdays first, before their numerals are turned into digits.
    text = re.sub(r"(?<!下)(?:下个?|下一个?)(?:周|星期|礼拜)([一二三四五六日天])",
                  lambda m: _next_week(today, _WEEKDAYS[m.group(1)]), text)  # fmt: skip
    text = re.sub(r"(?:这个?|本)?(?:周|星期|礼拜)([一二三四五六日天])",
                  lambda m: f" {_WEEKDAYS[m.group(1)]} ", text)  # fmt: skip
    text = _CN_NUMBER.sub(lambda m: _chinese_number(m.group(0)), text)
    text = re.sub(r"(\d{1,2})月(\d{1,2})[日号]?",
                  lambda m: f" {int(m.group(2))} {_MONTHS[int(m.group(1)) - 1]} "
                  if 1 <= int(m.group(1)) <= 12 else m.group(0), text)  # fmt: skip
    text = re.sub(r"(\d{1,2})[点點:：](半|(\d{1,2})分?)?(?:钟)?", _clock_time, text)
    text = re.sub(rf"(?:{_AFTERNOON})\s*(\d{{1,2}}):(\d{{2}})", _to_afternoon, text)
    text = re.sub(rf"(?:{_MORNING}|中午)\s*(\d{{1,2}}:\d{{2}})", r" \1", text)
    return re.sub(r"\s+", " ", text).strip()


def _clock_time(match: re.Match[str]) -> str:
    minutes = 30 if match.group(2) == "半" else int(match.group(3) or 0)
    return f" {int(match.group(1))}:{minutes:02d} "


def _to_afternoon(match: re.Match[str]) -> str:
    hour = int(match.group(1))
    return f" {hour + 12 if hour < 12 else hour}:{match.group(2)} "


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def parse_when(
    text: str, zone: tzinfo, *, now: datetime, language: str, month_first: bool = False
) -> datetime | None:
    """The moment `text` names, as an aware datetime in `zone`, or None if unreadable.

    Relative phrases ("in 2 hours", "明天") count from `now`. Ambiguous
    numeric dates follow the user's habit: month first for Chinese users and
    American zones, day first elsewhere; the caller echoes the result back.
    """
    cleaned = text.strip()
    if not cleaned or len(cleaned) > 100:
        return None
    if _has_chinese(cleaned):
        cleaned = _rewrite_chinese(cleaned, now.astimezone(zone).date())
    order = "MDY" if month_first or language == "zh" else "DMY"
    settings: dict[str, Any] = {
        # Parse in local wall-clock time and attach the zone ourselves, so any
        # zone we can name (including "UTC+05:30") works the same way.
        "RETURN_AS_TIMEZONE_AWARE": False,
        "PREFER_DATES_FROM": "future",
        "DATE_ORDER": order,
        "RELATIVE_BASE": now.astimezone(zone).replace(tzinfo=None),
    }
    try:
        parsed = dateparser.parse(cleaned, languages=["zh", "en"], settings=settings)
    except (ValueError, OverflowError):
        return None
    if parsed is None:
        return None
    local = parsed.astimezone(zone) if parsed.tzinfo else parsed.replace(tzinfo=zone)
    return local.replace(microsecond=0)


def find_when(
    text: str, zone: tzinfo, *, now: datetime, language: str, month_first: bool = False
) -> tuple[datetime, str] | None:
    """A moment named somewhere inside `text`, and the text without it.

    "明天上午9点 给王总打电话" gives tomorrow 09:00 and "给王总打电话".
    """
    from dateparser.search import search_dates

    cleaned = text.strip()
    if not cleaned or len(cleaned) > 500:
        return None
    if _has_chinese(cleaned):
        cleaned = _rewrite_chinese(cleaned, now.astimezone(zone).date())
    settings: dict[str, Any] = {
        "RETURN_AS_TIMEZONE_AWARE": False,
        "PREFER_DATES_FROM": "future",
        "DATE_ORDER": "MDY" if month_first or language == "zh" else "DMY",
        "RELATIVE_BASE": now.astimezone(zone).replace(tzinfo=None),
    }
    try:
        found = search_dates(cleaned, languages=["zh", "en"], settings=settings)
    except (ValueError, OverflowError):
        return None
    if not found:
        return None
    phrase, parsed = found[0]
    local = parsed.astimezone(zone) if parsed.tzinfo else parsed.replace(tzinfo=zone)
    remainder = " ".join(cleaned.replace(phrase, " ", 1).split())
    return local.replace(microsecond=0), remainder
