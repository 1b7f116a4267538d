"""Probe evidence pages: discrepancies, probe runs (start a sweep, watch it, see its result)."""
from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from ..context import get_store, settings
from ..errors import RegistryError
from ..store import NotFound
from . import sweeps, tables
from .blueprint import bp
from .security import current_principal, is_admin, role_required

RUN_COLUMNS = (("id", "Lượt"), ("kind", "Khía cạnh"), ("status", "Trạng thái"), ("actor", "Người chạy"),
               ("started_at", "Bắt đầu"), ("finished_at", "Kết thúc"), ("total", "Tổng"), ("done", "Đã xong"),
               ("counts", "Kết luận"), ("message", "Ghi chú"))
ATTEMPT_COLUMNS = (("code", "Mã thủ tục"), ("dimension", "Khía cạnh"), ("verdict", "Kết luận"),
                   ("checked_at", "Lúc"), ("duration_ms", "Thời gian (ms)"), ("details", "Chi tiết"))
KINDS = ("all", "linkage", "payment")
SHOWN = 100  # attempts listed on a run page; the download has them all


def count_items(counts: dict[str, int]) -> list[dict[str, Any]]:
    """A run's counts ({"linkage.integrated": 6} or {"integrated": 6}) as labelled items."""
    items = []
    for key, n in sorted(counts.items()):
        dimension, _, verdict = key.rpartition(".")
        items.append({"key": key, "dimension": dimension or None, "verdict": verdict, "n": n})
    return items


def matches(attempt: dict[str, Any], key: str) -> bool:
    """Does an attempt fall under a count key (`dimension.verdict` or just `verdict`)?"""
    dimension, _, verdict = key.rpartition(".")
    return attempt["verdict"] == verdict and (not dimension or attempt["dimension"] == dimension)


@bp.route("/probes")
def probe_runs() -> Any:
    """Every probe run, newest first, and (for administrators) the form to start a sweep."""
    runs = get_store().list_runs(limit=200)
    download = tables.pick([tables.Table("runs", RUN_COLUMNS, runs, filename="tthc-luot-kiem-tra")])
    if download is not None:
        return download
    for run in runs:
        run["count_items"] = count_items(run["counts"])
    return render_template("dashboard/probe_runs.html", runs=runs, kinds=KINDS,
                           can_start=is_admin(current_principal()) and sweeps.can_start(),
                           engine=sweeps.probing() is not None, downloads=tables.download_urls())


@bp.route("/probes", methods=["POST"])
@role_required(is_admin)
def probe_start() -> Any:
    """Start a sweep in the background and go to its progress page."""
    kind = request.form.get("kind", "all")
    if kind not in KINDS:
        abort(400, description="Khía cạnh kiểm tra không hợp lệ.")
    if not sweeps.can_start():
        abort(503, description="Bộ kiểm tra (probe engine) chưa được cài đặt trên máy chủ này.")
    try:
        run = sweeps.start(current_app._get_current_object(), kind=kind,
                           actor=current_principal().username)
    except sweeps.SweepBusy as exc:
        flash(f"Đang có một lượt kiểm tra chạy, chưa thể bắt đầu lượt mới ({exc}).", "error")
        return redirect(url_for("dashboard.probe_runs"))
    except RegistryError as exc:  # the engine refuses before probing (e.g. no portal configured)
        flash(f"Chưa thể bắt đầu lượt kiểm tra: {exc.title_vi.lower()}.", "error")
        return redirect(url_for("dashboard.probe_runs"))
    flash(f"Đã bắt đầu lượt kiểm tra #{run['id']}.", "success")
    return redirect(url_for("dashboard.probe_run", run_id=run["id"]))


@bp.route("/probes/<int:run_id>")
def probe_run(run_id: int) -> Any:
    """One run: progress while it runs (the page refreshes itself), then its verdicts."""
    store = get_store()
    try:
        run = store.get_run(run_id)
    except NotFound:
        abort(404, description=f"Không có lượt kiểm tra #{run_id}.")
    attempts = store.run_attempts(run_id)
    download = tables.pick([tables.Table("attempts", ATTEMPT_COLUMNS, attempts,
                                         filename=f"tthc-luot-{run_id}")])
    if download is not None:
        return download
    verdict_filter = request.args.get("verdict", "")
    shown = [a for a in attempts if not verdict_filter or matches(a, verdict_filter)]
    percent = 100.0 * run["done"] / run["total"] if run["total"] else (100.0 if run["finished_at"] else 0.0)
    return render_template("dashboard/probe_run.html", run=run, attempts=shown[:SHOWN],
                           counts=count_items(run["counts"]),
                           shown_total=len(shown), verdict_filter=verdict_filter, percent=percent,
                           running=run["status"] == "running", downloads=tables.download_urls())


@bp.route("/discrepancies")
def discrepancies() -> Any:
    """Where the declared registry and the portal disagree, per the latest probe evidence."""
    items = sweeps.discrepancy_list(get_store(), settings())
    rows = sweeps.discrepancy_rows(items or [])
    download = tables.pick([tables.Table("discrepancies", sweeps.DISCREPANCY_COLUMNS, rows,
                                         filename="tthc-sai-lech")])
    if download is not None:
        return download
    kind = request.args.get("kind", "")
    shown = [r for r in rows if not kind or r["kind"] == kind]
    kinds = sorted({r["kind"] for r in rows})
    return render_template("dashboard/discrepancies.html", rows=shown, available=items is not None,
                           kinds=kinds, kind=kind, total=len(rows), discrepancy_kinds=sweeps.DISCREPANCY_KINDS,
                           downloads=tables.download_urls())
