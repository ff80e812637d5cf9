"""Business days in the owner's time zone: Monday to Friday (holidays are not known)."""

import datetime as dt
import zoneinfo


def business_days_between(start: dt.datetime, end: dt.datetime, timezone: str) -> int:
    """Whole business days after `start`'s day up to and including `end`'s day, both read
    in `timezone`: a proposal sent on a Friday has 1 on Monday and 2 on Tuesday."""
    zone = zoneinfo.ZoneInfo(timezone)
    first = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    if last <= first:
        return 0
    days = (last - first).days
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    for offset in range(1, rest + 1):
        if (first + dt.timedelta(days=offset)).weekday() < 5:
            count += 1
    return count
