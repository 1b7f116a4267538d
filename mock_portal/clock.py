"""Time as the portal writes it: Asia/Ho_Chi_Minh (UTC+7, no daylight saving)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")


def now_vn() -> datetime:
    """The current time in Asia/Ho_Chi_Minh."""
    return datetime.now(VN_TZ)


def iso_now() -> str:
    """The current time as ISO 8601 with the +07:00 offset (journal and admin records)."""
    return now_vn().isoformat(timespec="milliseconds")


def stamp(moment: datetime | None = None) -> str:
    """`yyyyMMddHHmmss` in Asia/Ho_Chi_Minh, the date format inside payloads."""
    return (moment or now_vn()).astimezone(VN_TZ).strftime("%Y%m%d%H%M%S")
