"""Quiet hours: a reminder that falls inside them waits until they end."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo

from dialogs.core.answers import whole_number


def parse_clock(text: str) -> time | None:
    """Read "21:00", "9:30" or "9" as a time of day; None if it is not one.

    Digits are decimal digits only (full-width ones too); "①:00" or "9:²" are not times.
    """
    cleaned = text.strip().replace("：", ":")
    hours, _, minutes = cleaned.partition(":")
    hour = whole_number(hours)
    minute = whole_number(minutes) if minutes else 0
    if hour is None or minute is None:
        return None
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


def quiet_until(moment: datetime, zone: tzinfo, start: str, end: str) -> datetime | None:
    """When the quiet period containing `moment` ends, or None if `moment` is not in one.

    A period may wrap midnight (21:00–08:00). Equal start and end means no quiet hours.
    """
    begin, finish = parse_clock(start), parse_clock(end)
    if begin is None or finish is None or begin == finish:
        return None
    local = moment.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    wraps = begin > finish
    inside = (clock >= begin or clock < finish) if wraps else (begin <= clock < finish)
    if not inside:
        return None
    end_day = local.date()
    if wraps and clock >= begin:
        end_day += timedelta(days=1)
    return datetime.combine(end_day, finish, tzinfo=zone)
