"""Quiet hours: a reminder that falls inside them waits until they end."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo


def parse_clock(text: str) -> time | None:
    """Read "21:00", "9:30" or "9" as a time of day; None if it is not one."""
    cleaned = text.strip().replace("：", ":")
    hours, _, minutes = cleaned.partition(":")
    if not hours.isdigit() or (minutes and not minutes.isdigit()):
        return None
    hour, minute = int(hours), int(minutes or 0)
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
