"""Breakdowns of the coverage by agency, level (tier) and field: sortable tables."""
from __future__ import annotations

from typing import Any

from flask import abort, render_template, request, url_for

from ..context import get_store, settings
from ..reporting import cached_coverage_report
from . import tables
from .blueprint import bp
from .labels import GROUPS, INDICATORS_SHORT, TIERS

INDICATOR_IDS = tuple(INDICATORS_SHORT)
NUMERIC = ("procedures", "online", "level4", *INDICATOR_IDS)
# The procedure list's query argument that selects one group's procedures.
FILTER_ARG = {"agency": "agency", "field": "field", "level": "tier"}


def breakdown_rows(report: dict[str, Any], group: str) -> list[dict[str, Any]]:
    """One flat row per group member: counts and each indicator's percent."""
    rows = []
    for entry in report["groups"][group]:
        row: dict[str, Any] = {"key": entry["key"], "procedures": entry["totals"]["procedures"],
                               "online": entry["totals"]["online"],
                               "level4": entry["totals"]["by_level"]["4"]}
        for item in entry["indicators"]:
            if item["id"] in INDICATOR_IDS:
                row[item["id"]] = item["percent"]
                row[item["id"] + "_needed"] = item["needed"]
        rows.append(row)
    return rows


def sort_rows(rows: list[dict[str, Any]], sort: str, direction: str) -> list[dict[str, Any]]:
    """Rows sorted by one column; empty values (no denominator) always last."""
    present = [r for r in rows if r.get(sort) is not None]
    missing = [r for r in rows if r.get(sort) is None]
    present.sort(key=lambda r: (r[sort], r["key"]) if sort != "key" else r["key"].casefold(),
                 reverse=direction == "desc")
    return present + missing


@bp.route("/breakdowns/<group>")
def breakdown(group: str) -> Any:
    """Coverage of every agency, tier or field; each row links to its procedures."""
    if group not in GROUPS:
        abort(404, description="Chỉ phân tích theo cơ quan (agency), cấp (level) hoặc lĩnh vực (field).")
    basis = request.args.get("basis", "declared")
    if basis not in ("declared", "verified"):
        basis = "declared"
    sort = request.args.get("sort", "procedures")
    if sort not in ("key", *NUMERIC):
        sort = "procedures"
    direction = "asc" if request.args.get("dir") == "asc" else "desc"
    report = cached_coverage_report(get_store, settings(), basis=basis, group_by=(group,))
    rows = sort_rows(breakdown_rows(report, group), sort, direction)
    for row in rows:
        row["label"] = TIERS.get(row["key"], row["key"]) if group == "level" else (row["key"] or "(trống)")
        row["href"] = url_for("dashboard.procedures", **{FILTER_ARG[group]: row["key"]})
    columns = [("key", GROUPS[group]), ("procedures", "Số TTHC"), ("online", "Trực tuyến (mức 3, 4)"),
               ("level4", "Mức 4")] + [(i, INDICATORS_SHORT[i] + " (%)") for i in INDICATOR_IDS]
    download = tables.pick([tables.Table(f"breakdown-{group}", columns, rows,
                                         filename=f"tthc-theo-{group}-{basis}")])
    if download is not None:
        return download
    return render_template("dashboard/breakdown.html", group=group, groups=GROUPS, rows=rows,
                           basis=basis, sort=sort, direction=direction, report=report,
                           indicator_ids=INDICATOR_IDS, downloads=tables.download_urls())


@bp.route("/breakdowns")
def breakdowns_home() -> Any:
    """The breakdowns' landing page: by agency."""
    return breakdown("agency")
