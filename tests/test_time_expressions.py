"""Every row of tests/data/time_expressions.tsv through the shared time parser.

The table fixes the context: now is Wednesday 2026-12-02 10:15 in Asia/Shanghai,
the default hour is 09:00 and the horizon two years. Each row gives the local
time expected (or ASK / REFUSE) and the exact text left over (the task).
"""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import NamedTuple

import pytest

from dialogs.core.dates import Outcome, Reason, find_when, parse_when, read_when
from dialogs.core.timezones import zone_for

TABLE = Path(__file__).parent / "data" / "time_expressions.tsv"
ZONE = zone_for("Asia/Shanghai")
NOW = datetime(2026, 12, 2, 10, 15, tzinfo=ZONE)
DEFAULT_HOUR = time(9, 0)
HORIZON_YEARS = 2


class Row(NamedTuple):
    text: str
    lang: str
    expected: str
    rest: str
    note: str


def load_rows() -> list[Row]:
    lines = TABLE.read_text(encoding="utf-8").splitlines()
    header, *body = lines
    assert header.split("\t") == list(Row._fields)
    rows = []
    for line in body:
        if not line.strip():
            continue
        cells = line.split("\t")
        cells += [""] * (len(Row._fields) - len(cells))
        rows.append(Row(*cells[: len(Row._fields)]))
    return rows


ROWS = load_rows()


def outcome_of(text: str, lang: str) -> tuple[str, str]:
    """What the parser makes of `text`: ("YYYY-MM-DD HH:MM" | "ASK" | "REFUSE", rest)."""
    result = read_when(
        text,
        ZONE,
        now=NOW,
        language=lang,
        default_hour=DEFAULT_HOUR,
        horizon_years=HORIZON_YEARS,
    )
    if result.outcome is Outcome.OK:
        assert result.moment is not None and result.moment.tzinfo is ZONE
        return result.moment.strftime("%Y-%m-%d %H:%M"), result.rest
    assert result.reason, "an ASK or REFUSE always says why"
    return result.outcome.name, result.rest


def test_the_table_is_well_formed() -> None:
    assert len(ROWS) == 262
    assert len({row.text for row in ROWS}) == len(ROWS)
    assert {row.lang for row in ROWS} == {"zh", "en"}


@pytest.mark.parametrize("row", ROWS, ids=[row.text for row in ROWS])
def test_time_expression(row: Row) -> None:
    assert outcome_of(row.text, row.lang) == (row.expected, row.rest), row.note


def test_parse_when_gives_the_moment_a_past_one_or_none() -> None:
    kwargs = {"now": NOW, "language": "zh"}
    assert parse_when("明天下午3点", ZONE, **kwargs) == datetime(2026, 12, 3, 15, 0, tzinfo=ZONE)
    # A past moment comes back so a date step can say "already passed".
    assert parse_when("今天上午9点", ZONE, **kwargs) == datetime(2026, 12, 2, 9, 0, tzinfo=ZONE)
    for unusable in ("明天7点", "节后", "下周八", "500年后", "", "x" * 5000):
        assert parse_when(unusable, ZONE, **kwargs) is None, unusable


def test_find_when_gives_the_moment_and_the_task() -> None:
    found = find_when("明天上午9点 给王总打电话", ZONE, now=NOW, language="zh")
    assert found == (datetime(2026, 12, 3, 9, 0, tzinfo=ZONE), "给王总打电话")
    assert find_when("call Li", ZONE, now=NOW, language="en") is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("明天7点", Reason.HOUR),
        ("过几天", Reason.VAGUE),
        ("call Li", Reason.NO_TIME),
        ("today 9am", Reason.PAST),
        ("in 3 years", Reason.HORIZON),
        ("Feb 30", Reason.INVALID),
        ("12/12/12", Reason.AMBIGUOUS),
        ("x" * 501, Reason.TOO_LONG),
    ],
)
def test_every_ask_and_refusal_says_why(text: str, reason: Reason) -> None:
    assert read_when(text, ZONE, now=NOW, language="en").reason is reason


def test_the_default_hour_and_horizon_are_settings() -> None:
    found = read_when("后天", ZONE, now=NOW, language="zh", default_hour=time(10, 30))
    assert found.moment == datetime(2026, 12, 4, 10, 30, tzinfo=ZONE)
    assert read_when("in 3 years", ZONE, now=NOW, language="en", horizon_years=5).outcome is (
        Outcome.OK
    )


def test_numeric_dates_follow_the_users_habit() -> None:
    day_first = read_when("3/4", ZONE, now=NOW, language="en")
    month_first = read_when("3/4", ZONE, now=NOW, language="en", month_first=True)
    assert day_first.moment == datetime(2027, 4, 3, 9, 0, tzinfo=ZONE)
    assert month_first.moment == datetime(2027, 3, 4, 9, 0, tzinfo=ZONE)
