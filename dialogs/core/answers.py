"""Reading typed answers for each answer kind; each returns a value or an error key."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dialogs.core.steps import Option
from dialogs.core.texts import Texts
from playbooks.locales import LANGUAGES

MAX_ANSWER_LENGTH = 2000


@dataclass(frozen=True)
class Parsed:
    """The outcome of reading an answer: a value, or an error's locale key and values."""

    value: Any = None
    error: str | None = None
    error_values: dict[str, Any] = field(default_factory=dict)


def read_text(text: str, max_length: int = MAX_ANSWER_LENGTH) -> Parsed:
    """Non-empty text up to `max_length` characters, trimmed."""
    cleaned = text.strip()
    if not cleaned:
        return Parsed(error="errors.empty")
    if len(cleaned) > max_length:
        return Parsed(error="errors.too_long", error_values={"limit": max_length})
    return Parsed(value=cleaned)


def option_label(option: Option, t: Texts) -> str:
    """The text shown for an option."""
    return option.label if option.literal else t(option.label)


def match_option(text: str, options: Sequence[Option], t: Texts) -> Option | None:
    """The option a typed answer names: by its number in the list or by its label."""
    cleaned = text.strip().casefold()
    if cleaned.isdigit() and 1 <= int(cleaned) <= len(options):
        return options[int(cleaned) - 1]
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
    cleaned = text.strip().replace(",", "").replace("，", "")
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
    cleaned = text.strip()
    if not cleaned.isdigit() or not 1 <= int(cleaned) <= 10:
        return Parsed(error="errors.not_a_scale")
    return Parsed(value=int(cleaned))


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
