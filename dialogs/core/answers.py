"""Reading typed answers for each answer kind; each returns a value or an error key."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dialogs.core.steps import Option
from dialogs.core.texts import Texts
from playbooks.locales import LANGUAGES

MAX_ANSWER_LENGTH = 2000
# Hangul fillers: letters to Unicode (category Lo) but blank on screen, a common
# trick for "empty" names.
_FILLERS = frozenset("\u3164\u115f\u1160\uffa0")
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs"})
# A comma between digits is a thousands separator only before exactly three digits.
_THOUSANDS = re.compile(r"(?<=\d)[,，](?=\d{3}(?!\d))")


@dataclass(frozen=True)
class Parsed:
    """The outcome of reading an answer: a value, or an error's locale key and values."""

    value: Any = None
    error: str | None = None
    error_values: dict[str, Any] = field(default_factory=dict)


def read_text(text: str, max_length: int = MAX_ANSWER_LENGTH) -> Parsed:
    """Non-empty text up to `max_length` characters, trimmed.

    Text of nothing but zero-width characters or fillers counts as empty.
    """
    cleaned = text.strip()
    if not trim_invisible(cleaned):
        return Parsed(error="errors.empty")
    if len(cleaned) > max_length:
        return Parsed(error="errors.too_long", error_values={"limit": max_length})
    return Parsed(value=cleaned)


def whole_number(text: str) -> int | None:
    """The value of a string of decimal digits ("12", full-width "１２"), else None.

    `str.isdigit()` also accepts circled and superscript digits ("①", "²") that
    `int()` refuses; only Unicode decimal digits (category Nd) count here.
    """
    if not text or not text.isdecimal():
        return None
    value = 0
    for char in text:
        value = value * 10 + unicodedata.decimal(char)
    return value


def key_number(value: object, prefix: str) -> int | None:
    """The id inside button data such as "u12" or "d7" for `prefix`, else None.

    Only ASCII digits count: "u²" or "u①" is no id, and int() would raise on it.
    """
    text = str(value)
    digits = text[len(prefix) :]
    if not text.startswith(prefix) or not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits)


def _invisible(char: str) -> bool:
    return char in _FILLERS or unicodedata.category(char) in _INVISIBLE_CATEGORIES


def trim_invisible(text: str) -> str:
    """Text without leading and trailing whitespace, zero-width characters and fillers."""
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or _invisible(text[start])):
        start += 1
    while end > start and (text[end - 1].isspace() or _invisible(text[end - 1])):
        end -= 1
    return text[start:end]


def has_letter(text: str) -> bool:
    """Whether the text shows at least one letter (Latin, CJK, any script).

    Zero-width and format characters (Cf), spaces (Zs) and the Hangul fillers,
    which Unicode counts as letters but show nothing, do not count.
    """
    return any(unicodedata.category(char).startswith("L") and not _invisible(char) for char in text)


def option_label(option: Option, t: Texts) -> str:
    """The text shown for an option."""
    return option.label if option.literal else t(option.label)


def match_option(text: str, options: Sequence[Option], t: Texts) -> Option | None:
    """The option a typed answer names: by its number in the list or by its label."""
    cleaned = text.strip().casefold()
    number = whole_number(cleaned)
    if number is not None and 1 <= number <= len(options):
        return options[number - 1]
    for option in options:
        if cleaned in {option_label(option, t).casefold(), option.key.casefold()}:
            return option
    # Part of one label is enough ("manager", "上海") when no other label contains it.
    if len(cleaned) >= 2:
        partial = [option for option in options if cleaned in option_label(option, t).casefold()]
        if len(partial) == 1:
            return partial[0]
    return None


def read_choice(text: str, options: Sequence[Option], t: Texts) -> Parsed:
    """One of the options, typed as its number or its label."""
    option = match_option(text, options, t)
    if option is None:
        return Parsed(error="errors.not_a_choice", error_values={"count": len(options)})
    return Parsed(value=option.key)


def read_multi_choice(text: str, options: Sequence[Option], t: Texts) -> Parsed:
    """Several options typed as numbers or labels separated by commas or spaces."""
    parts = [part for part in re.split(r"[,，、;；\s]+", text.strip()) if part]
    keys: list[str] = []
    for part in parts:
        option = match_option(part, options, t)
        if option is None:
            return Parsed(error="errors.not_a_choice", error_values={"count": len(options)})
        if option.key not in keys:
            keys.append(option.key)
    if not keys:
        return Parsed(error="errors.empty")
    return Parsed(value=keys)


def read_number(text: str, minimum: float | None, maximum: float | None) -> Parsed:
    """A number, within bounds when the step sets them; whole numbers come back as int."""
    cleaned = _THOUSANDS.sub("", text.strip())
    try:
        number = float(cleaned)
    except ValueError:
        return Parsed(error="errors.not_a_number")
    if number != number or number in (float("inf"), float("-inf")):
        return Parsed(error="errors.not_a_number")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        return Parsed(
            error="errors.out_of_range",
            error_values={"minimum": _plain(minimum), "maximum": _plain(maximum)},
        )
    return Parsed(value=int(number) if number.is_integer() else number)


def _plain(number: float | None) -> str:
    if number is None:
        return ""
    return str(int(number)) if float(number).is_integer() else str(number)


def read_scale(text: str) -> Parsed:
    """A whole number from 1 to 10."""
    number = whole_number(text.strip())
    if number is None or not 1 <= number <= 10:
        return Parsed(error="errors.not_a_scale")
    return Parsed(value=number)


def _words(key: str) -> set[str]:
    # Bilingual users answer in either language, whatever their setting.
    return {word.casefold() for language in LANGUAGES for word in Texts(language).words(key)}


def read_yes_no(text: str) -> Parsed:
    """Yes or no, in either language's words (the locales list what counts)."""
    cleaned = text.strip().casefold().rstrip(".!。！")
    if cleaned in _words("words.yes") | {"1"}:
        return Parsed(value=True)
    if cleaned in _words("words.no") | {"2"}:
        return Parsed(value=False)
    return Parsed(error="errors.not_yes_no")
