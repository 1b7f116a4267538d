"""The home page: every indicator against its target, declared beside verified."""
from __future__ import annotations

from typing import Any

from flask import render_template

from ..context import get_store, settings
from ..dossiers import dossier_report
from ..reporting import cached_value
from . import tables
from .blueprint import bp
from .charts import coverage_chart, progress
from .labels import INDICATORS
from .sweeps import discrepancy_count, latest_run

COLUMNS = (("indicator", "Chỉ tiêu (id)"), ("label", "Chỉ tiêu"),
           ("declared_numerator", "Kê khai: tử số"), ("declared_denominator", "Kê khai: mẫu số"),
           ("declared_percent", "Kê khai (%)"), ("verified_numerator", "Đã kiểm chứng: tử số"),
           ("verified_percent", "Đã kiểm chứng (%)"), ("claimed_unconfirmed", "Kê khai nhưng chưa xác nhận"),
           ("target_percent", "Mục tiêu (%)"), ("due", "Hạn"), ("source", "Văn bản"),
           ("met", "Đạt (kê khai)"), ("needed", "Cần thêm (kê khai)"))


# What `needed` counts, per indicator (procedures unless said here).
UNITS = {"dossier_online_services_rate": "dịch vụ công", "dossier_fully_online_rate": "hồ sơ",
         "dossier_on_time_rate": "hồ sơ", "satisfaction_rate": "đánh giá"}


def indicator_rows(declared: dict[str, Any], verified: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per indicator merging both bases (the overview's table and its downloads)."""
    ver = {i["id"]: i for i in verified["indicators"]}
    rows = []
    for item in declared["indicators"]:
        v = ver.get(item["id"], {})
        target = item.get("target") or {}
        rows.append({
            "indicator": item["id"], "label": INDICATORS.get(item["id"], item["id"]),
            "available": item.get("available", True),
            "declared_numerator": item.get("numerator"), "declared_denominator": item.get("denominator"),
            "declared_percent": item.get("percent"), "verified_numerator": v.get("numerator"),
            "verified_percent": v.get("percent"), "claimed_unconfirmed": v.get("claimed_unconfirmed"),
            "target_percent": target.get("percent"), "due": target.get("due"),
            "source": target.get("source"), "met": item.get("met"), "needed": item.get("needed"),
            "verified_met": v.get("met"), "verified_needed": v.get("needed"),
            "bar_declared": progress(item.get("percent"), target.get("percent")),
            "bar_verified": progress(v.get("percent"), target.get("percent")),
            "verified_denominator": v.get("denominator"), "unit": UNITS.get(item["id"], "thủ tục"),
        })
    return rows


@bp.route("/")
def overview() -> Any:
    """Overview: progress bars and an SVG chart per indicator, freshness, discrepancies."""
    store, cfg = get_store(), settings()
    # Method tthc-coverage/2 (/1's figures and the dossier indicators of the latest year), served from
    # the report cache while the data (change counter) and the clock allow.
    declared = cached_value(store, cfg, "overview_report", "declared",
                            lambda s: dossier_report(s, cfg, basis="declared")).value
    verified = cached_value(store, cfg, "overview_report", "verified",
                            lambda s: dossier_report(s, cfg, basis="verified")).value
    rows = indicator_rows(declared, verified)
    table = tables.Table("indicators", COLUMNS, rows, filename="tthc-chi-tieu")
    download = tables.pick([table])
    if download is not None:
        return download
    return render_template(
        "dashboard/overview.html", declared=declared, verified=verified, rows=rows,
        chart=coverage_chart({"declared": declared, "verified": verified}),
        discrepancies=cached_value(store, cfg, "discrepancy_count", None,
                                   lambda s: discrepancy_count(s, cfg), clock_sensitive=False).value,
        last_run=latest_run(store),
        downloads=tables.download_urls())
