"""Free-text dates and times in Chinese or English: one grammar for every date step and /remind.

Why a small grammar here and not a library. Measured on tests/data/time_expressions.tsv
(262 rows, zh 137 / en 125; now = Wed 2026-12-02 10:15 Asia/Shanghai):

- dateparser plus regex rewrites of Chinese (the previous parser): 61/262 (zh 24, en 37),
  counting "found nothing" as ASK; it can neither ask nor refuse. `search_dates` cannot
  say which words were the time ("下周一下午两点半" came back as today 14:30 and the task
  "7 dec …"), and its readings differ from what reps mean: a date alone is 00:00,
  "Friday at 3" the 3rd of the month, "next Friday" the coming one, and "12/12/12",
  "31 Dec 9999" and "in 500 years" are accepted.
- jionlp 1.5.31 (Apache-2.0; Chinese only): 74/137 zh rows even when its output is mapped
  generously, no English at all; it brings jiojio (148 MB) for 19 MB of its own, imports in
  0.8–1.9 s plus ~0.5 s on first use, and silently reads invalid input as something else
  ("9999年12月31日" → 2026-12-31, "明天25点" → tomorrow, "2月30日" → 30 December).
- this grammar: 262/262 (zh 137, en 125), standard library only: ~30 ms to import (the
  old module paid ~140 ms for dateparser), ~40 ms to compile its patterns on first use,
  then well under a millisecond a message.

Neither library knows the conventions the table asks for, and those are most of the work:
the default hour for a bare date, a bare hour read within working hours, "下周一"/"next
Monday" as the following calendar week, 月底 as the last working day, a horizon, and
refusing an impossible or past time instead of guessing. Both would still need a grammar
around them to find which words are the time, so the task text is left intact ("明确",
"后台", "晚宴", "touch", "Monica", "Decathlon" must survive).

The conventions (every one is a row in the table):
- A date without a time is at `default_hour` (09:00). 早上/明早 08:00, 上午/morning 09:00,
  中午/noon 12:00, 下午/afternoon 14:00, 傍晚 18:00, 晚上/今晚/evening/tonight 20:00,
  下班前/EOD 17:30; 凌晨 without an hour asks.
- An hour without 上午/下午/am/pm is read within working hours (08:00–19:00): "3点" is
  15:00, "9点" 09:00, "12点" 12:00; "7点" could be 07:00 or 19:00, both outside, so we ask.
  A leading zero ("07:00") or a 24-hour clock ("15:00") is meant as written.
- 周五/Friday is the next one to come (never today); 这周五/this Friday this calendar
  week's; 下周五/next Friday the following calendar week's (weeks start on Monday);
  下周/next week is its Monday.
- A time of day without a day is the next one to come; a named day whose time has passed
  ("今天上午9点", "today 9am") is refused as past.
- Offsets in minutes or hours keep the minute; offsets in days or more use the default hour.
- 月底/end of month is the last Monday–Friday of the month, 下个月初/early next month the
  first; public holidays are ignored.
- Beyond the horizon (two years from today, that day included) is refused, and so are
  impossible dates and times (2月30日, 25:00, 下周八) and two-digit years (12/12/12).
- Vague words (节后, 过几天, later, ASAP) and hours we cannot place ask for a time.

The default hour and the horizon are module constants, passed through by every caller
(there is no per-user setting for them yet).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import Enum, StrEnum
from functools import cache

DEFAULT_HOUR = time(9, 0)  # a date given without a time of day
HORIZON_YEARS = 2  # later than this many years from today is refused
MAX_TEXT = 500
WORKING_HOURS = (time(8, 0), time(19, 0))  # where a bare "3" or "9" is placed
END_OF_WORK = time(17, 30)  # 下班前, EOD


class Outcome(Enum):
    OK = "ok"
    ASK = "ask"  # no usable time: ask the user for one
    REFUSE = "refuse"  # a time was given but cannot be used


class Reason(StrEnum):
    """Why a time was asked for or refused."""

    NO_TIME = "no_time"  # ASK: nothing in the text names a time
    VAGUE = "vague"  # ASK: "节后", "later", "ASAP"
    HOUR = "hour"  # ASK: "7点" (07:00 or 19:00?), 凌晨 without an hour
    PAST = "past"  # REFUSE: already passed
    HORIZON = "horizon"  # REFUSE: beyond the horizon
    INVALID = "invalid"  # REFUSE: no such date, hour, minute or weekday
    AMBIGUOUS = "ambiguous"  # REFUSE: "12/12/12": which is the year?
    TOO_LONG = "too_long"  # REFUSE: more text than we read


@dataclass(frozen=True)
class When:
    """What a text says about time.

    `moment` is set when OK, and for a REFUSE because it is past (so a caller can say
    when that was). `rest` is the text without the words that named the time (the task),
    `phrase` those words.
    """

    outcome: Outcome
    moment: datetime | None = None
    rest: str = ""
    reason: Reason | None = None
    phrase: str = ""


def read_when(
    text: str,
    zone: tzinfo,
    *,
    now: datetime,
    language: str,
    month_first: bool = False,
    default_hour: time = DEFAULT_HOUR,
    horizon_years: int = HORIZON_YEARS,
) -> When:
    """Find the time named anywhere in `text` and read it in `zone`, relative to `now`.

    "明天上午9点 给王总打电话" is tomorrow 09:00 with the rest "给王总打电话". Numeric
    dates ("3/4") are month first for Chinese users and when `month_first`, else day first.
    """
    cleaned = text.strip()
    if len(cleaned) > MAX_TEXT:
        return When(Outcome.REFUSE, rest=cleaned, reason=Reason.TOO_LONG)
    local_now = now.astimezone(zone).replace(microsecond=0)
    scan = _Scan(
        text=cleaned.translate(_FOLD),
        now=local_now,
        today=local_now.date(),
        month_first=month_first or language == "zh",
        horizon=_add_years(local_now.date(), horizon_years) or date.max,
    )
    found = _find(scan)
    if found is None:
        vague = _find_vague(scan.text)
        if vague is None:
            return When(Outcome.ASK, rest=cleaned, reason=Reason.NO_TIME)
        start, end = vague
        rest = _rest(cleaned, start, end)
        return When(Outcome.ASK, rest=rest, reason=Reason.VAGUE, phrase=cleaned[start:end])
    start, end, pieces = found
    rest = _rest(cleaned, start, end)
    phrase = cleaned[start:end]
    result = _resolve(pieces, scan, zone, default_hour)
    if isinstance(result, Reason):
        outcome = Outcome.ASK if result is Reason.HOUR else Outcome.REFUSE
        return When(outcome, rest=rest, reason=result, phrase=phrase)
    if result <= local_now:
        return When(Outcome.REFUSE, result, rest, Reason.PAST, phrase)
    if result.date() > scan.horizon:
        return When(Outcome.REFUSE, rest=rest, reason=Reason.HORIZON, phrase=phrase)
    return When(Outcome.OK, result, rest, phrase=phrase)


def parse_when(
    text: str,
    zone: tzinfo,
    *,
    now: datetime,
    language: str,
    month_first: bool = False,
    default_hour: time = DEFAULT_HOUR,
    horizon_years: int = HORIZON_YEARS,
) -> datetime | None:
    """The moment `text` names, as an aware datetime in `zone`, or None if there is none.

    A past moment is returned as it is, so a step can say "that has already passed";
    anything asked for or refused otherwise is None. `read_when` tells why.
    """
    found = read_when(
        text,
        zone,
        now=now,
        language=language,
        month_first=month_first,
        default_hour=default_hour,
        horizon_years=horizon_years,
    )
    if found.outcome is Outcome.OK or found.reason is Reason.PAST:
        return found.moment
    return None


def find_when(
    text: str,
    zone: tzinfo,
    *,
    now: datetime,
    language: str,
    month_first: bool = False,
    default_hour: time = DEFAULT_HOUR,
    horizon_years: int = HORIZON_YEARS,
) -> tuple[datetime, str] | None:
    """A usable moment named somewhere inside `text`, and the text without it.

    "明天上午9点 给王总打电话" gives tomorrow 09:00 and "给王总打电话".
    """
    found = read_when(
        text,
        zone,
        now=now,
        language=language,
        month_first=month_first,
        default_hour=default_hour,
        horizon_years=horizon_years,
    )
    if found.outcome is Outcome.OK and found.moment is not None:
        return found.moment, found.rest
    return None


# ----- scanning -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Scan:
    text: str  # the user's text with full-width digits and colons folded, same length
    now: datetime  # local
    today: date
    month_first: bool
    horizon: date


@dataclass(frozen=True)
class _Piece:
    """One part of a time expression: a day, a part of the day, a clock time or an offset."""

    kind: str  # "day", "part", "clock" or "offset"
    end: int
    day: date | None = None
    part: str | None = None  # a key of _PARTS; 今晚/tonight set it with the day
    hour: int = 0
    minute: int = 0
    meridiem: str = ""  # "am", "pm" or ""
    literal: bool = False  # "07:00", "15:00": the hour is meant as written
    delta: timedelta | None = None
    error: Reason | None = None
    weak: bool = False  # a bare weekday or "3/4": used only when nothing stronger is there
    alone: bool = True  # False: not a time on its own ("一点" in "快一点")


# One character for one: the spans found in the folded text are spans of the original.
_FOLD = str.maketrans(
    "０１２３４５６７８９：點號週禮兩後個鐘時這幾節慶",
    "0123456789:点号周礼两后个钟时这几节庆",
)
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")
_CJK = re.compile(r"[\u3400-\u9fff]")


def _find(scan: _Scan) -> tuple[int, int, list[_Piece]] | None:
    """The first strong time expression in the text, else the first weak one."""
    text = scan.text
    weak: tuple[int, int, list[_Piece]] | None = None
    for start in range(len(text)):
        if text[start].isspace():
            continue
        if start and _ASCII_WORD.match(text[start - 1]) and _ASCII_WORD.match(text[start]):
            continue  # never inside a word: "Monica", "decide", "touch"
        pieces = _expression(scan, start)
        if not pieces or (len(pieces) == 1 and not pieces[0].alone):
            continue
        found = (start, pieces[-1].end, pieces)
        if not (len(pieces) == 1 and pieces[0].weak):
            return found
        if weak is None and (start == 0 or not _is_abbreviation(text, start, pieces[0].end)):
            weak = found
    return weak


def _is_abbreviation(text: str, start: int, end: int) -> bool:
    """A short weekday ("Sun", "Sat") inside a sentence is more likely a name."""
    return bool(re.fullmatch(r"[A-Za-z]{2,4}\.?", text[start:end].strip()))


def _expression(scan: _Scan, start: int) -> list[_Piece]:
    """The pieces of one expression starting at `start`: each kind at most once."""
    pieces: list[_Piece] = []
    position = start
    while True:
        if pieces:
            joiner = _JOINER.match(scan.text, position)
            position = joiner.end() if joiner else position
        piece = _next_piece(scan, position, pieces)
        if piece is None:
            return pieces
        pieces.append(piece)
        position = piece.end
        if piece.kind == "offset":
            return pieces


_JOINER = re.compile(r"\s*(?:的\s*)?")


def _next_piece(scan: _Scan, position: int, pieces: list[_Piece]) -> _Piece | None:
    kinds = {piece.kind for piece in pieces}
    has_part = any(piece.part for piece in pieces)
    for kind, pattern, build in _matchers():
        if kind in kinds or (kind == "part" and has_part) or (pieces and kind == "offset"):
            continue
        if kind == "clock" and any(piece.part == "eod" for piece in pieces):
            continue
        match = pattern.match(scan.text, position)
        if match is None:
            continue
        piece = build(match, scan)
        if piece is not None:
            return piece
    return None


def _rest(text: str, start: int, end: int) -> str:
    """The text without the time expression and the separators around it."""
    before = _TRAILING_SEPARATORS.sub("", text[:start])
    after = _LEADING_SEPARATORS.sub("", text[end:]).rstrip()
    if before and after:
        joiner = "" if _CJK.match(before[-1]) and _CJK.match(after[0]) else " "
        return before + joiner + after
    return before or after


_SEPARATORS = r"[\s,，、:：;；\-–—~]"
_LEADING_SEPARATORS = re.compile(rf"^{_SEPARATORS}+")
_TRAILING_SEPARATORS = re.compile(rf"{_SEPARATORS}+$")


# ----- numbers ------------------------------------------------------------------------

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_EN_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
               "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
               "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
               "forty-five": 45, "sixty": 60, "ninety": 90}  # fmt: skip
NUM = r"(?:\d{1,5}|[零〇一二两三四五六七八九十百千]{1,6})"


def _number(token: str) -> int:
    """Digits or a Chinese numeral ("十二", "二〇二六", "五百") as an int."""
    if token.isascii():
        return int(token)
    if all(char in _CN_DIGITS for char in token):
        return int("".join(str(_CN_DIGITS[char]) for char in token))
    total = current = 0
    for char in token:
        if char in _CN_UNITS:
            total += (current or 1) * _CN_UNITS[char]
            current = 0
        else:
            current = _CN_DIGITS[char]
    return total + current


def _en_number(token: str) -> float:
    token = " ".join(token.lower().split())
    if token.startswith("half"):
        return 0.5
    return _EN_NUMBERS[token] if token in _EN_NUMBERS else float(token)


# ----- calendar -----------------------------------------------------------------------


def _add_months(day: date, months: int) -> date | None:
    """The same day `months` later, the month's last day if it is shorter; None past 9999."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    if year > 9999:
        return None
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _add_years(day: date, years: int) -> date | None:
    return _add_months(day, 12 * years) if years < 10000 else None


def _working_day(year: int, month: int, *, last: bool) -> date:
    """The first or last Monday–Friday of a month (public holidays are not known)."""
    day = date(year, month, calendar.monthrange(year, month)[1] if last else 1)
    step = timedelta(days=-1 if last else 1)
    while day.weekday() >= 5:
        day += step
    return day


def _month_edge(scan: _Scan, months_ahead: int, *, last: bool, roll: bool) -> date:
    """月底 / 下个月初 / end of next month; `roll`: this month's is past, take the next."""
    first = _add_months(scan.today.replace(day=1), months_ahead) or date.max
    day = _working_day(first.year, first.month, last=last)
    if roll and day < scan.today:
        first = _add_months(first, 1) or date.max
        day = _working_day(first.year, first.month, last=last)
    return day


def _calendar_date(scan: _Scan, year: int | None, month: int, day: int, end: int) -> _Piece:
    """A date as written; without a year the next one to come (today included)."""
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2000, month)[1]:
        return _Piece("day", end, error=Reason.INVALID)
    if year is not None:
        if year > 9999:
            return _Piece("day", end, error=Reason.HORIZON)
        if year < 1900 or day > calendar.monthrange(year, month)[1]:
            return _Piece("day", end, error=Reason.INVALID)
        return _Piece("day", end, day=date(year, month, day))
    for candidate_year in range(scan.today.year, scan.today.year + 9):
        if day <= calendar.monthrange(candidate_year, month)[1]:
            candidate = date(candidate_year, month, day)
            if candidate >= scan.today:
                return _Piece("day", end, day=candidate)
    return _Piece("day", end, error=Reason.INVALID)  # pragma: no cover - unreachable


def _weekday(scan: _Scan, weekday: int, *, weeks_ahead: int, this_week: bool) -> date:
    """下周五 / next Friday (weeks_ahead=1), 这周五 (this_week) or 周五 (the next to come)."""
    monday = scan.today - timedelta(days=scan.today.weekday())
    if weeks_ahead:
        return monday + timedelta(days=7 * weeks_ahead + weekday)
    if this_week:
        return monday + timedelta(days=weekday)
    return scan.today + timedelta(days=(weekday - scan.today.weekday()) % 7 or 7)


# ----- the grammar --------------------------------------------------------------------

Builder = Callable[[re.Match[str], _Scan], _Piece | None]


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.VERBOSE)


# Parts of the day: (default time, how an hour after it is read).
_PARTS: dict[str, tuple[time | None, str]] = {
    "dawn": (None, "small"),  # 凌晨: asks without an hour; 凌晨12点 is 00:00
    "early": (time(8, 0), "as is"),  # 早上, 明早
    "morning": (time(9, 0), "as is"),  # 上午, morning
    "noon": (time(12, 0), "noon"),  # 中午1点 is 13:00
    "afternoon": (time(14, 0), "pm"),
    "dusk": (time(18, 0), "pm"),
    "evening": (time(20, 0), "pm"),  # 晚上12点 is midnight
    "eod": (END_OF_WORK, "none"),
}
_ZH_PARTS = {"凌晨": "dawn", "清晨": "early", "早晨": "early", "早上": "early", "一早": "early",
             "早": "early", "上午": "morning", "中午": "noon", "下午": "afternoon",
             "傍晚": "dusk", "晚上": "evening", "晚间": "evening", "夜里": "evening",
             "晚": "evening"}  # fmt: skip
_EN_PARTS = {"morning": "morning", "noon": "noon", "midday": "noon", "afternoon": "afternoon",
             "evening": "evening", "night": "evening"}  # fmt: skip
_ZH_DAYS = {"前天": (-2, None), "昨天": (-1, None), "昨日": (-1, None), "今天": (0, None),
            "今日": (0, None), "今儿": (0, None), "明天": (1, None), "明日": (1, None),
            "明儿": (1, None), "后天": (2, None), "大后天": (3, None), "今晚": (0, "evening"),
            "今夜": (0, "evening"), "明晚": (1, "evening"), "明夜": (1, "evening"),
            "今早": (0, "early"), "明早": (1, "early")}  # fmt: skip
_ZH_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
                "七": 6, "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}  # fmt: skip
_EN_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|(?-i:May|MAY)|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?:\.|\b)"
)
_BY = r"(?:(?:by|before|until|till|on)\s+)?"


def _zh_day(match: re.Match[str], scan: _Scan) -> _Piece:
    offset, part = _ZH_DAYS[match.group(0)]
    return _Piece("day", match.end(), day=scan.today + timedelta(days=offset), part=part)


def _en_day(match: re.Match[str], scan: _Scan) -> _Piece:
    word = " ".join(match.group("word").lower().split())
    part = None
    if word.startswith("this "):
        offset, part = 0, _EN_PARTS[word.removeprefix("this ")]
    elif word in ("tonight", "tonite"):
        offset, part = 0, "evening"
    elif "after" in word:
        offset = 2
    else:
        offset = {"today": 0, "yesterday": -1}.get(word, 1)
    return _Piece("day", match.end(), day=scan.today + timedelta(days=offset), part=part)


def _zh_weekday(match: re.Match[str], scan: _Scan) -> _Piece | None:
    modifier, name, bad = match.group("mod") or "", match.group("wd"), match.group("bad")
    weeks_ahead = modifier.count("下")
    if bad is not None:
        return _Piece("day", match.end(), error=Reason.INVALID)
    if name is None:
        if not weeks_ahead:
            return None  # "这周", "周报"
        day = _weekday(scan, 0, weeks_ahead=weeks_ahead, this_week=False)  # 下周: its Monday
        return _Piece("day", match.end(), day=day)
    day = _weekday(scan, _ZH_WEEKDAYS[name], weeks_ahead=weeks_ahead, this_week=bool(modifier))
    return _Piece("day", match.end(), day=day, weak=not modifier)


def _en_weekday(match: re.Match[str], scan: _Scan) -> _Piece:
    modifier = (match.group("mod") or "").lower()
    weekday = _EN_WEEKDAYS.index(match.group("wd")[:3].lower())
    if modifier == "next":
        day = _weekday(scan, weekday, weeks_ahead=1, this_week=False)
    elif modifier == "this":
        day = _weekday(scan, weekday, weeks_ahead=0, this_week=True)
        if day < scan.today:  # "this Monday" on a Wednesday: the coming one
            day += timedelta(days=7)
    else:
        day = _weekday(scan, weekday, weeks_ahead=0, this_week=False)
    return _Piece("day", match.end(), day=day, weak=not (match.group("lead") or modifier))


def _next_week(match: re.Match[str], scan: _Scan) -> _Piece:
    return _Piece("day", match.end(), day=_weekday(scan, 0, weeks_ahead=1, this_week=False))


def _zh_month_edge(match: re.Match[str], scan: _Scan) -> _Piece:
    which, month = match.group("which"), match.group("month")
    if match.group("year"):
        return _Piece("day", match.end(), day=_working_day(scan.today.year, 12, last=True))
    last = which in ("底", "末")
    if month is not None:
        number = _number(month)
        if not 1 <= number <= 12:
            return _Piece("day", match.end(), error=Reason.INVALID)
        ahead = (number - scan.today.month) % 12
        return _Piece("day", match.end(), day=_month_edge(scan, ahead, last=last, roll=True))
    ahead = 1 if match.group("next") else 0
    return _Piece("day", match.end(), day=_month_edge(scan, ahead, last=last, roll=not ahead))


def _en_month_edge(match: re.Match[str], scan: _Scan) -> _Piece:
    words = " ".join(match.group(0).lower().split())
    if "year" in words:
        day = _working_day(scan.today.year, 12, last=True)
    else:
        ahead = 1 if "next" in words else 0
        last = not any(word in words for word in ("early", "beginning", "start"))
        day = _month_edge(scan, ahead, last=last, roll=not ahead)
    return _Piece("day", match.end(), day=day)


def _zh_date(match: re.Match[str], scan: _Scan) -> _Piece:
    year = _number(match.group("y")) if match.group("y") else None
    return _calendar_date(
        scan, year, _number(match.group("m")), _number(match.group("d")), match.end()
    )


def _zh_day_of_month(match: re.Match[str], scan: _Scan) -> _Piece:
    day = _number(match.group("d"))
    if not 1 <= day <= 31:
        return _Piece("day", match.end(), error=Reason.INVALID)
    first = scan.today.replace(day=1)
    for ahead in range(3):
        month = _add_months(first, ahead) or date.max
        if day <= calendar.monthrange(month.year, month.month)[1]:
            candidate = month.replace(day=day)
            if candidate >= scan.today:
                return _Piece("day", match.end(), day=candidate)
    return _Piece("day", match.end(), error=Reason.INVALID)  # pragma: no cover


def _en_date(match: re.Match[str], scan: _Scan) -> _Piece:
    month = _MONTHS.index(match.group("mon")[:3].lower()) + 1
    year = int(match.group("y")) if match.group("y") else None
    return _calendar_date(scan, year, month, int(match.group("d")), match.end())


def _iso_date(match: re.Match[str], scan: _Scan) -> _Piece:
    return _calendar_date(
        scan, int(match.group("y")), int(match.group("m")), int(match.group("d")), match.end()
    )


def _numeric_date(match: re.Match[str], scan: _Scan) -> _Piece | None:
    """3/4 or 3/4/2027: month first for Chinese users and American zones, else day first.

    Without a year it is weak, and when impossible it is a date only at the start of the
    text ("31/02 call Li"), not in the middle of a sentence ("discuss the 50/50 split").
    """
    first, second, year = int(match.group("a")), int(match.group("b")), match.group("y")
    if year is not None and len(year) == 2:
        return _Piece("day", match.end(), error=Reason.AMBIGUOUS)  # 12/12/12
    month, day = (first, second) if scan.month_first else (second, first)
    piece = _calendar_date(scan, int(year) if year else None, month, day, match.end())
    if year:
        return piece
    if piece.error and match.start():
        return None
    return replace(piece, weak=True)


def _zh_offset(match: re.Match[str], scan: _Scan) -> _Piece | None:
    if not (match.group("pre") or match.group("post")):
        return None  # "3天" alone is a duration, not a time
    amount = float(_number(match.group("n"))) if match.group("n") else 0.0
    if match.group("half") or match.group("half_only"):
        amount += 0.5
    unit = match.group("unit")
    unit = {"小时": "hour", "钟头": "hour", "分钟": "minute", "分": "minute", "天": "day",
            "日": "day", "周": "week", "星期": "week", "礼拜": "week", "月": "month",
            "年": "year"}[unit.removeprefix("个")]  # fmt: skip
    return _offset(scan, amount, unit, match.end())


def _en_offset(match: re.Match[str], scan: _Scan) -> _Piece:
    amount = _en_number(match.group("n"))
    if match.group("and_half"):
        amount += 0.5
    unit = match.group("unit").lower()
    by_letter = {"h": "hour", "d": "day", "w": "week", "y": "year"}
    unit = by_letter.get(unit[0]) or ("month" if unit.startswith("mo") else "minute")
    return _offset(scan, amount, unit, match.end())


def _offset(scan: _Scan, amount: float, unit: str, end: int) -> _Piece:
    """Minutes and hours from now keep the minute; days and more land on a day."""
    if unit in ("minute", "hour"):
        minutes = amount * (60 if unit == "hour" else 1)
        if minutes > 60 * 24 * 366 * 100:
            return _Piece("offset", end, error=Reason.HORIZON)
        return _Piece("offset", end, delta=timedelta(minutes=minutes))
    if unit in ("day", "week") and amount != int(amount):  # "1.5 days": 36 hours from now
        return _offset(scan, amount * 24 * (7 if unit == "week" else 1), "hour", end)
    if amount != int(amount):
        return _Piece("day", end, error=Reason.INVALID)  # "1.5 months"
    count = int(amount)
    if unit in ("day", "week"):
        days = count * (7 if unit == "week" else 1)
        if days > 366 * 100:
            return _Piece("day", end, error=Reason.HORIZON)
        return _Piece("day", end, day=scan.today + timedelta(days=days))
    months = count * (12 if unit == "year" else 1)
    day = _add_months(scan.today, months) if months < 12 * 10000 else None
    if day is None:
        return _Piece("day", end, error=Reason.HORIZON)
    return _Piece("day", end, day=day)


def _zh_part(match: re.Match[str], _scan: _Scan) -> _Piece:
    word = match.group("part")
    part = "eod" if word.startswith("下班") else _ZH_PARTS[word]
    return _Piece("part", match.end(), part=part, weak=True)


def _en_part(match: re.Match[str], _scan: _Scan) -> _Piece:
    word = match.group("part").lower()
    part = _EN_PARTS.get(word.split()[-1], "eod")
    return _Piece("part", match.end(), part=part, weak=True)


def _zh_clock(match: re.Match[str], _scan: _Scan) -> _Piece:
    hour_text = match.group("h")
    minute = 0
    # "快一点", "早一点" are "a bit quicker/earlier"; "明天一点" is one o'clock.
    alone = hour_text != "一" or bool(
        match.group("half") or match.group("quarter") or match.group("m")
    )
    if match.group("half"):
        minute = 30
    elif match.group("quarter"):
        minute = 15 * _number(match.group("quarter"))
    elif match.group("m"):
        minute = _number(match.group("m"))
    return replace(_clock(hour_text, minute, "", match.end(), colon=False), alone=alone)


def _en_clock(match: re.Match[str], _scan: _Scan) -> _Piece:
    if match.group("ch"):
        return _clock(match.group("ch"), int(match.group("cm")), "", match.end(), colon=True)
    if match.group("bh"):  # "at 3"
        return _clock(match.group("bh"), 0, "", match.end(), colon=False)
    meridiem = match.group("mer").lower().replace(".", "")
    minute = int(match.group("m")) if match.group("m") else 0
    return _clock(match.group("h"), minute, meridiem, match.end(), colon=bool(match.group("m")))


def _clock(hour_text: str, minute: int, meridiem: str, end: int, *, colon: bool) -> _Piece:
    hour = _number(hour_text)
    literal = (colon and len(hour_text) == 2 and hour_text.startswith("0")) or hour == 0
    return _Piece("clock", end, hour=hour, minute=minute, meridiem=meridiem, literal=literal)


@cache
def _matchers() -> list[tuple[str, re.Pattern[str], Builder]]:
    """The grammar, compiled on first use (compiling it costs ~0.1 s; start-up need not)."""
    return [
        # offsets: 两小时后, 过半小时, 三天后, in 2 hours, in 3 days, 2 hours from now
        (
            "offset",
            _compile(rf"""
        (?P<pre>过)?\s*
        (?:(?P<n>{NUM})\s*(?:个)?\s*(?P<half>半)?|(?P<half_only>半)\s*(?:个)?)\s*
        (?P<unit>小时|钟头|分钟|分|天|日|周|星期|礼拜|个?月|年)
        (?P<post>之后|以后|后)?"""),
            _zh_offset,
        ),
        (
            "offset",
            _compile(r"""
        (?:in|after)\s+
        (?P<n>\d+(?:\.\d+)?|half\s+an?|an?|one|two|three|four|five|six|seven|eight|nine|ten
            |eleven|twelve|fifteen|twenty|thirty|forty-five|forty|sixty|ninety)
        \s*(?P<unit>hours?|hrs?|h|minutes?|mins?|m|days?|d|weeks?|wks?|w|months?|years?|yrs?)
        (?P<and_half>\s+and\s+a\s+half)?\b"""),
            _en_offset,
        ),
        (
            "offset",
            _compile(r"""
        (?P<n>\d+(?:\.\d+)?|an?|one|two|three|four|five|six|seven|eight|nine|ten)
        \s*(?P<unit>hours?|hrs?|minutes?|mins?|days?|weeks?|months?|years?)
        (?P<and_half>)\s+(?:from\s+now|later)\b"""),
            _en_offset,
        ),
        # days
        (
            "day",
            _compile(
                "大后天|前天|昨天|昨日|今天|今日|今儿|明天|明日|明儿|后天"
                "|今晚|今夜|明晚|明夜|今早|明早"
            ),
            _zh_day,
        ),
        (
            "day",
            _compile(r"""
        (?P<mod>下+个?|这个?|本)?(?:周|星期|礼拜)(?!末)
        (?:(?P<wd>[一二三四五六日天七1-7])|(?P<bad>[八九十零〇089]))?"""),
            _zh_weekday,
        ),
        (
            "day",
            _compile(rf"""
        (?:(?P<next>下个?)|这个?|本|(?P<month>{NUM})\s*)?月(?P<which>底|末|初)(?:之?前)?
        |(?P<year>(?:今年|今)?年(?:底|末)(?:之?前)?)"""),
            _zh_month_edge,
        ),
        (
            "day",
            _compile(rf"(?:(?P<y>{NUM})\s*年\s*)?(?P<m>{NUM})\s*月\s*(?P<d>{NUM})\s*[日号]?"),
            _zh_date,
        ),
        ("day", _compile(rf"(?P<d>{NUM})\s*号"), _zh_day_of_month),
        (
            "day",
            _compile(r"""
        (?P<word>(?:the\s+)?day\s+after\s+tomorrow|tomorrow|tomorow|tmrw|tmr|today|tonight
            |tonite|yesterday|this\s+(?:morning|afternoon|evening))\b"""),
            _en_day,
        ),
        ("day", _compile(rf"{_BY}next\s+week\b"), _next_week),
        (
            "day",
            _compile(r"""
        (?P<lead>(?:by|before|until|till|on)\s+)?(?:(?P<mod>this|next|coming)\s+)?
        (?P<wd>mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?
            |fri(?:day)?|sat(?:urday)?|sun(?:day)?)\b\.?"""),
            _en_weekday,
        ),
        (
            "day",
            _compile(rf"""
        {_BY}(?:
            (?:the\s+)?(?:end|close)\s+of\s+(?:the\s+|this\s+)?(?:month|year)
            |(?:the\s+)?(?:end|close)\s+of\s+next\s+month
            |(?:early|(?:the\s+)?(?:beginning|start)\s+of)\s+next\s+month
            |(?:month|year)[-\s]end
        )\b"""),
            _en_month_edge,
        ),
        (
            "day",
            _compile(rf"""
        {_BY}(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{MONTH})
        (?:,?\s+(?P<y>\d{{4}})\b)?"""),
            _en_date,
        ),
        (
            "day",
            _compile(rf"""
        {_BY}(?P<mon>{MONTH})\s*(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b
        (?:,?\s+(?P<y>\d{{4}})\b)?"""),
            _en_date,
        ),
        ("day", _compile(r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)"), _iso_date),
        (
            "day",
            _compile(r"(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?(?![\d/])"),
            _numeric_date,
        ),
        # parts of the day
        (
            "part",
            _compile(r"""
        (?P<part>下班之?前|凌晨|清晨|早晨|早上|一早|上午|中午|下午(?!茶)|傍晚|晚上|晚间|夜里
            |[早晚](?=\s*(?:\d{1,2}|[二两三四五六七八九十]{1,3})\s*[点时:]))"""),
            _zh_part,
        ),
        (
            "part",
            _compile(r"""
        (?P<part>(?:in\s+the\s+)?(?:morning|afternoon|evening)|night|noon|midday
            |(?:by\s+)?e\.?o\.?d\.?|(?:by\s+)?c\.?o\.?b\.?
            |(?:by\s+)?(?:the\s+)?end\s+of\s+(?:the\s+)?(?:work(?:ing)?\s+)?day
            |(?:by\s+)?close\s+of\s+business)(?![a-z])"""),
            _en_part,
        ),
        # clock times
        (
            "clock",
            _compile(rf"""
        (?P<h>{NUM})\s*[点时]
        (?:(?P<half>半)|(?P<quarter>[一三])刻|(?P<m>{NUM})\s*分?)?钟?"""),
            _zh_clock,
        ),
        (
            "clock",
            _compile(r"""
        (?:(?:at\b|@)\s*)?(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<mer>a\.?m\.?|p\.?m\.?)(?![a-z])
        |(?:(?:at\b|@)\s*)?(?P<ch>\d{1,2}):(?P<cm>\d{2})(?!\d)
        |(?:at\b|@)\s*(?P<bh>\d{1,2})\s*(?:o'?clock)?(?![\d:a-z])"""),
            _en_clock,
        ),
    ]


# ----- vague words --------------------------------------------------------------------


@cache
def _vague() -> re.Pattern[str]:
    return _compile(r"""
    节后第一天|节后|(?:春节|过年|年后|元旦|国庆|五一|中秋|端午|假期|放假|过完年)(?:之?后|以后)?
    |过几天|过两天|过一阵子?|过段时间|过些日子|尽快|尽早|改天|回头|有空|抽空|晚些时候|晚点
    |稍后|迟些|近期|最近|下次|以后|下个?月|这周|本周|月中|(?:下个?|这个?|本)?周末
    |(?<![a-z])(?:after\s+(?:the\s+)?(?:holidays?|chinese\s+new\s+year|cny|new\s+year
        |spring\s+festival|national\s+day|break|vacation)
    |later(?:\s+today|\s+on)?|a\.?s\.?a\.?p\.?|as\s+soon\s+as\s+possible|soon|sometime
    |some\s+time|some\s*day|one\s+of\s+these\s+days|in\s+a\s+(?:few|couple\s+of)\s+days
    |in\s+a\s+while|next\s+month|this\s+week|whenever)(?![a-z])""")


def _find_vague(text: str) -> tuple[int, int] | None:
    match = _vague().search(text)
    return (match.start(), match.end()) if match else None


# ----- from pieces to a moment --------------------------------------------------------


def _resolve(
    pieces: list[_Piece], scan: _Scan, zone: tzinfo, default_hour: time
) -> datetime | Reason:
    for piece in pieces:
        if piece.error is not None:
            return piece.error
    by_kind = {piece.kind: piece for piece in pieces}
    if "offset" in by_kind:
        delta = by_kind["offset"].delta or timedelta()
        return (scan.now.astimezone(UTC) + delta).astimezone(zone)  # real time, across DST
    day_piece = by_kind.get("day")
    part = next((piece.part for piece in pieces if piece.part), None)
    clock = by_kind.get("clock")
    if clock is not None:
        resolved = _hour(clock, part)
        if isinstance(resolved, Reason):
            return resolved
        hour, minute = resolved
    elif part is not None:
        default = _PARTS[part][0]
        if default is None:
            return Reason.HOUR
        hour, minute = default.hour, default.minute
    else:
        hour, minute = default_hour.hour, default_hour.minute
    day = day_piece.day if day_piece is not None and day_piece.day else scan.today
    if day > scan.horizon:
        return Reason.HORIZON
    moment = datetime.combine(day, time()) + timedelta(hours=hour, minutes=minute)
    if day_piece is None and _in_zone(moment, zone) <= scan.now:
        moment += timedelta(days=1)  # "8am", "下午三点": the next one to come
    return _in_zone(moment, zone)


def _in_zone(wall: datetime, zone: tzinfo) -> datetime:
    return wall.replace(tzinfo=zone)


def _hour(clock: _Piece, part: str | None) -> tuple[int, int] | Reason:
    """The 24-hour clock time of "3点", "下午3点", "3pm", "at 3" (working hours), "15:00"."""
    hour, minute = clock.hour, clock.minute
    if hour > 23 or minute > 59:
        return Reason.INVALID
    if clock.meridiem:
        if hour == 0:
            return Reason.INVALID
        if clock.meridiem == "am":
            return (0 if hour == 12 else hour, minute) if hour <= 12 else Reason.INVALID
        return (hour if hour >= 12 else hour + 12, minute)
    if part is not None:
        rule = _PARTS[part][1]
        if rule == "small":
            return (0 if hour == 12 else hour, minute) if hour <= 12 else Reason.INVALID
        if rule == "as is":
            return (hour, minute) if hour <= 12 else Reason.INVALID
        if rule == "noon":
            return (hour + 12 if 1 <= hour <= 5 else hour, minute)
        if rule == "pm":
            if hour == 12:
                return (24 if part == "evening" else 12, minute)
            return (hour + 12 if hour < 12 else hour, minute)
    if clock.literal or hour >= 13:
        return hour, minute
    start, end = WORKING_HOURS
    candidates = [h for h in (hour, hour + 12) if start <= time(h % 24, minute) < end and h < 24]
    if len(candidates) != 1:
        return Reason.HOUR  # "7点": 07:00 or 19:00, both outside working hours
    return candidates[0], minute
