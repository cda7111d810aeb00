"""Deal amounts and close months as people type them, in Chinese and English."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dialogs.core.money import format_money, read_amount, to_major
from dialogs.core.months import read_month
from dialogs.core.timezones import zone_for

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 23 Nov 2026, 17:00 in Shanghai
SHANGHAI = zone_for("Asia/Shanghai")


@pytest.mark.parametrize(
    ("text", "minor", "currency"),
    [
        ("120万", 120_000_000, None),
        ("1.2M", 120_000_000, None),
        ("¥350,000", 35_000_000, "CNY"),
        ("￥350，000", 35_000_000, "CNY"),
        ("80k", 8_000_000, None),
        ("$50k", 5_000_000, "USD"),
        ("3.5亿元", 35_000_000_000, "CNY"),
        ("120w", 120_000_000, None),
        ("１２０万", 120_000_000, None),
        ("USD 1,000,000.50", 100_000_050, "USD"),
        ("€ 2.5 million", 250_000_000, "EUR"),
        ("80万人民币", 80_000_000, "CNY"),
    ],
)
def test_amounts_are_read_exactly(text: str, minor: int, currency: str | None) -> None:
    read = read_amount(text, "CNY")
    assert read.error is None and read.money is not None
    assert (read.money.minor, read.money.currency) == (minor, currency)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("lots", "pipeline.amount_unreadable"),
        ("1,2", "pipeline.amount_unreadable"),
        ("$50€", "pipeline.amount_unreadable"),
        ("0", "pipeline.amount_zero"),
        ("99999999亿", "pipeline.amount_too_large"),
    ],
)
def test_unusable_amounts_are_refused_with_a_reason(text: str, error: str) -> None:
    assert read_amount(text, "CNY").error == error


def test_a_currency_without_minor_units_and_compact_display() -> None:
    read = read_amount("¥", "CNY")
    assert read.error is not None
    yen = read_amount("500万日元", "CNY").money
    assert yen is not None and (yen.minor, yen.currency) == (5_000_000, "JPY")
    assert str(to_major(120_000_050, "CNY")) == "1200000.50"
    assert format_money(120_000_000, "CNY", "zh") == "¥120万"
    assert format_money(120_000_000, "CNY", "en") == "CN¥1.2m"
    assert format_money(350_000, "CNY", "en") == "CN¥3,500"


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("2027-03", date(2027, 3, 1)),
        ("2027年3月", date(2027, 3, 1)),
        ("3月", date(2027, 3, 1)),  # March is over this year: next year's
        ("12月", date(2026, 12, 1)),
        ("明年3月", date(2027, 3, 1)),
        ("next month", date(2026, 12, 1)),
        ("下个月", date(2026, 12, 1)),
        ("下个月底", date(2026, 12, 1)),
        ("this month", date(2026, 11, 1)),
        ("Q2", date(2027, 6, 1)),
        ("q4", date(2026, 12, 1)),
        ("二季度", date(2027, 6, 1)),
        ("Q1 2027", date(2027, 3, 1)),
        ("下季度", date(2027, 3, 1)),
        ("March", date(2027, 3, 1)),
        ("mar 2027", date(2027, 3, 1)),
        ("end of next month", date(2026, 12, 1)),
        ("in 2 months", date(2027, 1, 1)),
        ("12/2026", date(2026, 12, 1)),
    ],
)
def test_months_are_read_in_both_languages(text: str, month: date) -> None:
    assert read_month(text, SHANGHAI, now=NOW, language="en") == read_month(
        text, SHANGHAI, now=NOW, language="zh"
    )
    assert read_month(text, SHANGHAI, now=NOW, language="zh").month == month


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("someday", "pipeline.month_unreadable"),
        ("", "pipeline.month_unreadable"),
        ("13月", "pipeline.month_invalid"),
        ("2027-13", "pipeline.month_invalid"),
        ("2026-05", "pipeline.month_past"),
        ("2040-01", "pipeline.month_too_far"),
    ],
)
def test_unusable_months_are_refused_with_a_reason(text: str, error: str) -> None:
    assert read_month(text, SHANGHAI, now=NOW, language="en").error == error
