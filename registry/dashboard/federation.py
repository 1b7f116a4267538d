""""Liên thông": the federated units side by side against the targets, trends, missing/stale units."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from flask import abort, render_template, request

from .. import federation
from ..context import get_store, settings
from . import tables
from .blueprint import bp
from .labels import INDICATORS, INDICATORS_SHORT

STATUSES = {"ok": "Đạt chuẩn cập nhật", "failing": "Lần lấy gần nhất lỗi (dùng số liệu trước)",
            "stale": "Số liệu quá cũ (không cộng)", "missing": "Chưa có số liệu"}
BASES = {"declared": "Kê khai", "verified": "Đã kiểm chứng"}
NO_ANSWER = {"timeout": "hết thời gian chờ", "connection_error": "không kết nối được",
             "http_5xx": "lỗi máy chủ (5xx)", "http_429": "quá nhiều yêu cầu (429)", "http_408": "hết thời gian (408)",
             "http_3xx": "chuyển hướng (3xx)"}


def reason_vi(reason: str | None) -> str:
    """A failed pull's reason (English, for the API and the CLI) said in Vietnamese."""
    text = reason or ""
    if text.startswith("no answer: "):
        outcome = text.removeprefix("no answer: ").split(" ", 1)[0]
        return "không trả lời: " + NO_ANSWER.get(outcome, "lỗi kết nối")
    if text.startswith("the answer is not a JSON object"):
        return "trả về dữ liệu không phải JSON"
    if text.startswith("invalid report: unknown method"):
        method = text.split("'")[1] if text.count("'") >= 2 else ""
        return f"báo cáo theo phương pháp chưa hỗ trợ ({method})"
    if text.startswith("invalid report: the report is of unit"):
        return "báo cáo của đơn vị khác"
    if text.startswith("invalid report"):
        return "báo cáo không đúng lược đồ đã công bố"
    if text.startswith("HTTP "):
        return "trả mã HTTP " + text.removeprefix("HTTP ")
    if text.startswith("304"):
        return "trả 304 khi chưa có số liệu"
    return "lỗi không xác định"


@dataclass(frozen=True)
class TrendChart:
    """One indicator's national percent over the days snapshots arrived: an SVG polyline."""

    id: str
    label: str
    width: int
    height: int
    points: tuple[tuple[float, float, str, float], ...]  # x, y, day, percent
    target_y: float | None
    target: float | None
    left: int = 44
    pad: int = 10

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in self.points)


def trend_charts(trend: Mapping[str, Sequence[Mapping[str, Any]]], targets: Mapping[str, float | None],
                 width: int = 320, height: int = 120) -> list[TrendChart]:
    """Small line charts (0-100 %), one per indicator with figures."""
    charts = []
    pad, left = 10, 44  # room on the left for the 0 % / 100 % labels
    for ind_id, series in trend.items():
        points = [s for s in series if s["percent"] is not None]
        if not points:
            continue
        step = (width - left - pad) / max(1, len(points) - 1)

        def y_of(pct: float) -> float:
            return height - pad - (height - 2 * pad) * max(0.0, min(100.0, pct)) / 100

        target = targets.get(ind_id)
        charts.append(TrendChart(
            ind_id, INDICATORS.get(ind_id, ind_id), width, height,
            tuple((left + i * step if len(points) > 1 else (left + width) / 2, y_of(p["percent"]), p["day"],
                   p["percent"])
                  for i, p in enumerate(points)),
            None if target is None else y_of(target), target))
    return charts


UNIT_COLUMNS = (("code", "Mã đơn vị"), ("name", "Tên đơn vị"), ("status", "Tình trạng"), ("as_of", "Số liệu ngày"),
                ("indicator", "Chỉ tiêu"), ("numerator", "Tử số"), ("denominator", "Mẫu số"),
                ("percent", "Tỷ lệ (%)"), ("rank", "Xếp hạng"))


@bp.route("/lien-thong")
def federation_page() -> Any:
    """Units side by side against the targets, a trend per indicator, units missing or stale."""
    basis = request.args.get("basis", "declared")
    if basis not in BASES:
        abort(400, description="Cơ sở số liệu phải là kê khai (declared) hoặc đã kiểm chứng (verified).")
    store, cfg = get_store(), settings()
    report = federation.federated_coverage(store, cfg, basis=basis)
    ids = [i["id"] for i in report["indicators"]]
    flat = [{"code": u["code"], "name": u["name"], "status": u["status"], "as_of": u["as_of"], "indicator": i["id"],
             "numerator": i["numerator"], "denominator": i["denominator"], "percent": i["percent"],
             "rank": i["rank"]} for u in report["units"] for i in u["indicators"]]
    download = tables.pick([tables.Table("units", UNIT_COLUMNS, flat, filename="tthc-lien-thong")])
    if download is not None:
        return download
    units = []
    for u in report["units"]:
        cells = {i["id"]: i for i in u["indicators"]}
        units.append({**u, "cells": [cells.get(ind) for ind in ids]})
    targets = {i["id"]: (i["target"] or {}).get("percent") for i in report["indicators"]}
    charts = trend_charts(federation.coverage_trend(store, cfg, basis=basis), targets)
    return render_template(
        "dashboard/federation.html", report=report, units=units, ids=ids, basis=basis, bases=BASES,
        short={i: INDICATORS_SHORT.get(i, INDICATORS.get(i, i)) for i in ids}, long=INDICATORS,
        statuses=STATUSES, charts=charts, reason_vi=reason_vi, downloads=tables.download_urls())
