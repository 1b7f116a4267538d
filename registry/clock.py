"""Time in one place: Hà Nội's zone, now, and the two ISO shapes the registry writes.

Pure (no I/O besides reading the clock): the store, coverage and the shells all import it.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

# Asia/Ho_Chi_Minh has had no daylight saving since 1975: a fixed offset is exact, and needs no
# tz database on the machine.
VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")


def now() -> datetime:
    """Now, aware, in Hà Nội time."""
    return datetime.now(VN_TZ)


def now_iso() -> str:
    """Now in Hà Nội time, ISO 8601 with offset, microseconds kept so audit order is total."""
    return now().isoformat(timespec="microseconds")


def to_datetime(value: str | datetime | date | None) -> datetime | None:
    """Parse an ISO string (or date/datetime) to an aware datetime; naive means Hà Nội time."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=VN_TZ)


def format_time(moment: datetime) -> str:
    """A report timestamp: Hà Nội time, ISO 8601, whole seconds."""
    return moment.astimezone(VN_TZ).isoformat(timespec="seconds")
