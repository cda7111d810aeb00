"""Amounts typed by people ("120万", "1.2M", "¥350,000", "80k") read exactly, and shown compactly.

Values are kept in the currency's minor units (fen, cents) as integers, so
sums are exact; babel knows each currency's number of decimals and how a
language writes large amounts ("¥120万", "CN¥1.2M").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.numbers import format_compact_currency, format_currency, get_currency_precision

MAX_MAJOR_UNITS = Decimal(10) ** 13  # ten trillion: more than any deal, fits a BIGINT in cents

# Symbols and words for a currency, written before or after the number.
_CURRENCIES = {
    "¥": "CNY",
    "元": "CNY",
    "块": "CNY",
    "人民币": "CNY",
    "rmb": "CNY",
    "cny": "CNY",
    "us$": "USD",
    "$": "USD",
    "usd": "USD",
    "美元": "USD",
    "美金": "USD",
    "€": "EUR",
    "eur": "EUR",
    "欧元": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "英镑": "GBP",
    "hk$": "HKD",
    "hkd": "HKD",
    "港币": "HKD",
    "港元": "HKD",
    "jpy": "JPY",
    "日元": "JPY",
}
# Multipliers after the number; the longer words first so "千万" is not read as "千".
_SCALES = {
    "千万": Decimal(10) ** 7,
    "百万": Decimal(10) ** 6,
    "十万": Decimal(10) ** 5,
    "万": Decimal(10) ** 4,
    "亿": Decimal(10) ** 8,
    "千": Decimal(10) ** 3,
    "thousand": Decimal(10) ** 3,
    "million": Decimal(10) ** 6,
    "billion": Decimal(10) ** 9,
    "mio": Decimal(10) ** 6,
    "mn": Decimal(10) ** 6,
    "bn": Decimal(10) ** 9,
    "k": Decimal(10) ** 3,
    "w": Decimal(10) ** 4,  # "120w": the common Chinese shorthand for 万
    "m": Decimal(10) ** 6,
    "b": Decimal(10) ** 9,
}


def _alternatives(words: list[str]) -> str:
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


_CURRENCY = _alternatives(list(_CURRENCIES))
_AMOUNT = re.compile(
    rf"^(?P<before>{_CURRENCY})?\s*"
    r"(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*"
    rf"(?P<scale>{_alternatives(list(_SCALES))})?\s*"
    rf"(?P<after>{_CURRENCY})?$"
)


@dataclass(frozen=True)
class Money:
    """An amount in a currency's minor units; `currency` None when the text named none."""

    minor: int
    currency: str | None


@dataclass(frozen=True)
class ReadAmount:
    """An amount read from text, or the locale key of why not."""

    money: Money | None = None
    error: str | None = None


def read_amount(text: str, default_currency: str) -> ReadAmount:
    """An amount like "120万", "1.2M", "¥350,000", "80k", "$50k" or "3.5亿元"."""
    folded = unicodedata.normalize("NFKC", text).strip().casefold().replace("，", ",")
    folded = folded.replace("￥", "¥")
    match = _AMOUNT.match(folded.replace(" ", "")) or _AMOUNT.match(folded)
    if match is None:
        return ReadAmount(error="pipeline.amount_unreadable")
    before, after = match.group("before"), match.group("after")
    if before and after and _CURRENCIES[before] != _CURRENCIES[after]:
        return ReadAmount(error="pipeline.amount_unreadable")
    named = _CURRENCIES[before or after] if (before or after) else None
    try:
        major = Decimal(match.group("number").replace(",", ""))
    except InvalidOperation:
        return ReadAmount(error="pipeline.amount_unreadable")
    major *= _SCALES.get(match.group("scale") or "", Decimal(1))
    if major <= 0:
        return ReadAmount(error="pipeline.amount_zero")
    if major >= MAX_MAJOR_UNITS:
        return ReadAmount(error="pipeline.amount_too_large")
    currency = named or default_currency
    return ReadAmount(Money(to_minor(major, currency), named))


def minor_factor(currency: str) -> int:
    """How many minor units make one major unit: 100 for CNY, 1 for JPY."""
    return int(10 ** get_currency_precision(currency))


def to_minor(major: Decimal, currency: str) -> int:
    """Major units (a Decimal) in minor units, rounded half up."""
    return int((major * minor_factor(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_major(minor: int, currency: str) -> Decimal:
    """Minor units back in major units, exactly."""
    precision = get_currency_precision(currency)
    return (Decimal(minor) / minor_factor(currency)).quantize(Decimal(1).scaleb(-precision))


@lru_cache(maxsize=4)
def _locale(language: str) -> Locale:
    """Parsed once: babel parses a locale name again on every call otherwise."""
    return Locale.parse("zh_CN" if language == "zh" else "en_GB")


@lru_cache(maxsize=8192)
def format_money(minor: int, currency: str, language: str) -> str:
    """A compact amount for a phone: "¥120万" in Chinese, "CN¥1.2M" in English."""
    major = to_major(minor, currency)
    if abs(major) < 10_000:
        return format_currency(
            major, currency, locale=_locale(language), format="¤#,##0", currency_digits=False
        )
    return format_compact_currency(major, currency, locale=_locale(language), fraction_digits=1)
