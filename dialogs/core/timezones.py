"""Reading a time zone the way users type it: an IANA name, a city, or "UTC+8"."""

from __future__ import annotations

import re
from datetime import UTC, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# Offered as buttons; the first matches most of our users.
COMMON_ZONES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
)
_OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


@lru_cache(maxsize=1)
def _zones_by_lower_name() -> dict[str, str]:
    names: dict[str, str] = {}
    for name in available_timezones():
        names[name.lower()] = name
        # "Shanghai", "new york" and "hong kong" find their zone by city.
        city = name.rsplit("/", 1)[-1].replace("_", " ").lower()
        names.setdefault(city, name)
    return names


def normalise_timezone(text: str) -> str | None:
    """The canonical name for what the user typed, or None if it names no zone.

    Whole-hour offsets become IANA "Etc/GMT" zones (whose sign is inverted by
    POSIX convention); other offsets are kept as "UTC+05:30".
    """
    cleaned = text.strip()
    if not cleaned or len(cleaned) > 64:
        return None
    if cleaned.upper() in {"UTC", "GMT", "Z"}:
        return "UTC"
    match = _OFFSET.match(cleaned)
    if match:
        return _offset_name(match.group(1), int(match.group(2)), int(match.group(3) or 0))
    return _zones_by_lower_name().get(cleaned.lower().replace("_", " ")) or (
        _zones_by_lower_name().get(cleaned.lower())
    )


def _offset_name(sign: str, hours: int, minutes: int) -> str | None:
    if hours > 14 or minutes >= 60 or (hours == 14 and minutes):
        return None
    if minutes == 0:
        if hours == 0:
            return "UTC"
        return f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def zone_for(name: str) -> tzinfo:
    """The tzinfo for a stored zone name; UTC if the name is unknown."""
    if name == "UTC":
        return UTC
    match = re.match(r"^UTC([+-])(\d{2}):(\d{2})$", name)
    if match:
        delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
        return timezone(delta if match.group(1) == "+" else -delta, name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def describe_zone(name: str) -> str:
    """A readable name: "Etc/GMT-8" is shown as "UTC+8"."""
    match = re.match(r"^Etc/GMT([+-])(\d{1,2})$", name)
    if match:
        return f"UTC{'-' if match.group(1) == '+' else '+'}{match.group(2)}"
    return name
