"""The "Hồ sơ" page: dossier indicators of a period by agency, most-late procedures, month by month."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import render_template, request

from .. import dossiers
from ..context import get_store, settings
from ..coverage import percent_of
from . import tables
from .blueprint import bp

AGENCY_COLUMNS = (("key", "Cơ quan"), ("received", "Hồ sơ tiếp nhận"), ("online", "Tiếp nhận trực tuyến"),
                  ("online_share", "Tỷ lệ trực tuyến (%)"), ("fully_online", "Hoàn toàn trực tuyến (%)"),
                  ("resolved", "Đã giải quyết"), ("late", "Quá hạn"), ("on_time", "Đúng hạn (%)"),
                  ("past_due", "Đang xử lý quá hạn"), ("ratings", "Lượt đánh giá"),
                  ("satisfaction", "Hài lòng (%)"), ("sync_rate", "Đồng bộ DVCQG (%)"))
LATE_COLUMNS = (("code", "Mã thủ tục"), ("name", "Tên thủ tục"), ("agency", "Cơ quan"),
                ("resolved", "Đã giải quyết"), ("late", "Quá hạn"), ("past_due", "Đang xử lý quá hạn"))
MONTH_COLUMNS = (("month", "Tháng"), ("received", "Tiếp nhận"), ("recv_online", "Trực tuyến"),
                 ("resolved", "Đã giải quyết"), ("resolved_late", "Quá hạn"), ("v_received", "DVCQG xác nhận"),
                 ("ratings", "Lượt đánh giá"), ("ratings_ok", "Hài lòng"))
UNSYNCED_COLUMNS = (("mahoso", "Mã hồ sơ"), ("code", "Mã thủ tục"), ("sync_state", "Tình trạng"),
                    ("status", "Trạng thái (hệ thống một cửa)"), ("remote_status", "Trạng thái trên DVCQG"),
                    ("checked_at", "Kiểm tra lúc"))
SYNC_STATES = {"missing": "Không có trên DVCQG", "status_behind": "DVCQG chậm trạng thái"}
# TrangThaiHoSo (contract v2 section 2).
STATUSES = {"1": "Mới đăng ký", "2": "Được tiếp nhận", "3": "Không được tiếp nhận", "4": "Đang xử lý",
            "5": "Yêu cầu bổ sung giấy tờ", "6": "Yêu cầu thực hiện nghĩa vụ tài chính",
            "7": "Công dân yêu cầu rút hồ sơ", "8": "Dừng xử lý", "9": "Đã xử lý xong", "10": "Đã trả kết quả"}


def _percent(item_id: str, entry: dict[str, Any]) -> float | None:
    return next((i["percent"] for i in entry["indicators"] if i["id"] == item_id), None)


def agency_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per agency: volumes, the dossier indicators and the DVCQG sync rate."""
    rows = []
    for entry in report["groups"]["agency"]:
        d = entry["dossiers"]
        if not d["received"]["total"] and not d["resolved"]["total"] and not d["ratings"]["total"]:
            continue
        received = d["received"]["total"]
        share = percent_of(d["received"]["online"], received)
        rows.append({"key": entry["key"] or "(thủ tục chưa đăng ký)", "received": received,
                     "online": d["received"]["online"], "online_share": float(share) if share is not None else None,
                     "fully_online": _percent("dossier_fully_online_rate", entry),
                     "resolved": d["resolved"]["total"], "late": d["resolved"]["late"],
                     "on_time": _percent("dossier_on_time_rate", entry), "past_due": d["in_progress"]["past_due"],
                     "ratings": d["ratings"]["total"], "satisfaction": _percent("satisfaction_rate", entry),
                     "sync_rate": d["dvcqg_sync"]["rate"]})
    rows.sort(key=lambda r: (-r["received"], r["key"]))
    return rows


@dataclass(frozen=True)
class MonthBar:
    label: str
    x: float
    width: float
    total_y: float
    total_h: float
    online_y: float
    online_h: float
    received: int
    online: int
    late: int


def month_chart(months: list[dict[str, Any]], width: int = 720, height: int = 220) -> dict[str, Any]:
    """Geometry of a column chart: received per month, the online part drawn over it."""
    top, bottom, left = 10, 30, 50
    plot_h = height - top - bottom
    peak = max([m["received"] or 0 for m in months] + [1])
    step = (width - left - 10) / max(1, len(months))
    bars = []
    for n, m in enumerate(months):
        total_h = plot_h * (m["received"] or 0) / peak
        online_h = plot_h * (m["recv_online"] or 0) / peak
        bars.append(MonthBar(f"{m['month'][5:]}/{m['month'][:4]}", left + n * step + step * 0.15, step * 0.7,
                             top + plot_h - total_h, total_h, top + plot_h - online_h, online_h,
                             m["received"] or 0, m["recv_online"] or 0, m["resolved_late"] or 0))
    ticks = [(round(peak * k / 4), top + plot_h - plot_h * k / 4) for k in range(5)]
    return {"width": width, "height": height, "left": left, "base": top + plot_h, "bars": bars, "ticks": ticks}


@bp.route("/ho-so")
def dossiers_page() -> Any:
    """Dossiers of a period: per agency (on time, online share, sync rate), most late, by month."""
    basis = request.args.get("basis", "declared")
    if basis not in ("declared", "verified"):
        basis = "declared"
    text = request.args.get("period", "").strip()
    error = None
    period = None
    if text:
        try:
            period = dossiers.parse_period(text)
        except dossiers.PeriodError:
            error = f"Kỳ không hợp lệ: «{text}». Nhập năm (2021), quý (2021-Q3) hoặc tháng (2021-07)."
    store = get_store()
    data = dossiers.dossier_page(store, settings(), basis=basis, period=period)
    report = data["report"]
    agencies = agency_rows(report)
    unsynced = [{**r, "sync_state": SYNC_STATES.get(r["sync_state"], r["sync_state"])} for r in data["unsynced"]]
    suffix = f"{report['period']['label']}-{basis}"
    all_tables = [tables.Table("agencies", AGENCY_COLUMNS, agencies, filename=f"ho-so-theo-co-quan-{suffix}"),
                  tables.Table("most-late", LATE_COLUMNS, data["most_late"], filename=f"ho-so-qua-han-{suffix}"),
                  tables.Table("months", MONTH_COLUMNS, data["months"], filename=f"ho-so-theo-thang-{suffix}"),
                  tables.Table("unsynced", UNSYNCED_COLUMNS, unsynced, filename="ho-so-chua-dong-bo-dvcqg")]
    download = tables.pick(all_tables)
    if download is not None:
        return download
    indicators = [i for i in report["indicators"] if i["id"] in dossiers.DOSSIER_INDICATOR_IDS]
    return render_template(
        "dashboard/dossiers.html", report=report, basis=basis, period_text=text, error=error,
        indicators=indicators, agencies=agencies, most_late=data["most_late"], months=data["months"],
        chart=month_chart(data["months"]), unsynced=unsynced, relay=data["relay"], statuses=STATUSES,
        downloads={t.id: tables.download_urls(t.id) for t in all_tables})
