"""Quiet hours: a reminder that falls inside them waits until they end."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo

from dialogs.core.answers import whole_number
from dialogs.core.timezones import zone_for
from storage.models import User


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


def held_until(user: User, moment: datetime) -> datetime | None:
    """When a message sent to `user` at `moment` reaches them, if their quiet hours hold it.

    The end of their quiet period in their own time zone, or None when they get it now.
    """
    return quiet_until(moment, zone_for(user.timezone), user.quiet_start, user.quiet_end)
