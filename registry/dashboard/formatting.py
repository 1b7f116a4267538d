"""Vietnamese number and date formats for templates (1.685; 31,02 %; 22/11/2026 10:00)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..clock import VN_TZ, to_datetime


def vn_number(value: Any) -> str:
    """An integer with '.' as thousands separator, as Vietnamese readers expect."""
    if value is None or value == "":
        return "—"
    return f"{int(value):,}".replace(",", ".")


def vn_percent(value: Any, decimals: int = 2) -> str:
    """A percentage with a decimal comma and trailing zeros dropped: 31,02 %, 30 %."""
    if value is None:
        return "—"
    text = f"{float(value):.{decimals}f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") + " %"


def vn_datetime(value: Any) -> str:
    """An ISO timestamp as dd/mm/yyyy HH:MM in Hà Nội time."""
    if not value:
        return "—"
    try:
        moment = to_datetime(value)
    except ValueError:
        return str(value)
    assert moment is not None
    return moment.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M")


def age_text(value: Any, now: datetime | None = None) -> str:
    """How long ago an ISO timestamp was, in Vietnamese ('3 ngày trước')."""
    if not value:
        return "chưa có"
    moment = to_datetime(value)
    assert moment is not None
    seconds = max(0, int(((now or datetime.now(VN_TZ)) - moment).total_seconds()))
    for unit, size in (("ngày", 86400), ("giờ", 3600), ("phút", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} trước"
    return "vừa xong"


def vn_value(value: Any) -> str:
    """A stored field value for people: booleans as Có/Không, lists joined, None as a dash."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value)


FILTERS = {"vn_value": vn_value, "vn_number": vn_number, "vn_percent": vn_percent, "vn_datetime": vn_datetime,
           "vn_age": age_text}
