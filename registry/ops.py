"""Operations endpoints and hooks: /healthz, /readyz, /metrics (Prometheus) and request logs."""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Iterator

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess)
from prometheus_client.core import GaugeMetricFamily

from .alerts.metrics import AlertCollector
from .context import check_database, get_store, settings
from .logs import configure_logging
from .store import open_store

bp = Blueprint("ops", __name__)
log = logging.getLogger("tthc.requests")


class EvidenceCollector:
    """Probe figures read from the database at scrape time, so CLI sweeps count too."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        cfg = self.app.config["TTHC"]
        try:
            with open_store(cfg["DATABASE"], cfg["BUSY_TIMEOUT_MS"], migrate=False) as store:
                stats = store.probe_stats()
        except Exception:  # a scrape must not fail because the database is busy
            return
        verdicts = GaugeMetricFamily("tthc_verdicts", "Procedures by latest verdict",
                                     labels=["dimension", "verdict", "stale"])
        for (dimension, verdict, stale), n in sorted(stats["verdicts"].items()):
            verdicts.add_metric([dimension, verdict, str(bool(stale)).lower()], n)
        yield verdicts
        attempts = GaugeMetricFamily("tthc_probe_attempts_stored", "Probe attempts kept as evidence",
                                     labels=["dimension", "verdict"])
        for (dimension, verdict), n in sorted(stats["attempts"].items()):
            attempts.add_metric([dimension, verdict], n)
        yield attempts
        last = GaugeMetricFamily("tthc_last_sweep_finished_timestamp_seconds",
                                 "Unix time the last sweep finished (0: never)")
        last.add_metric([], stats["last_sweep_finished"] or 0)
        yield last
        procs = GaugeMetricFamily("tthc_procedures", "Procedures in the registry", labels=["status"])
        for status, n in sorted(stats["procedures"].items()):
            procs.add_metric([status], n)
        yield procs


def _registry(app: Flask) -> CollectorRegistry:
    reg = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(reg)  # gunicorn workers share their figures
    return reg


def init_app(app: Flask) -> None:
    """Register the ops blueprint, request metrics and request logging."""
    configure_logging(app.config["TTHC"]["LOG_FORMAT"])
    reg = _registry(app)
    metric_reg = None if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else reg
    requests_total = Counter("tthc_http_requests_total", "HTTP requests", ["method", "endpoint", "status"],
                             registry=metric_reg)
    latency = Histogram("tthc_http_request_duration_seconds", "HTTP request latency",
                        ["method", "endpoint"], registry=metric_reg,
                        buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
    reg.register(EvidenceCollector(app))
    reg.register(AlertCollector(app))
    app.extensions["tthc_metrics"] = {"registry": reg, "requests": requests_total, "latency": latency}

    @app.before_request
    def _start() -> None:
        g._t0 = time.perf_counter()

    @app.after_request
    def _measure(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("_t0", time.perf_counter())
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        requests_total.labels(request.method, endpoint, str(response.status_code)).inc()
        latency.labels(request.method, endpoint).observe(elapsed)
        log.info("%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed * 1000,
                 extra={"method": request.method, "path": request.path,
                                    "status": response.status_code, "duration_ms": round(elapsed * 1000, 2),
                                    "endpoint": endpoint})
        return response

    app.register_blueprint(bp)


@bp.get("/healthz")
def healthz() -> Any:
    """Liveness: the process answers."""
    return jsonify(status="ok")


CHECK_SECONDS = 30.0


def _integrity_problem() -> str | None:
    """`check_database()` (quick_check), run at most every 30 s per app (so per worker process)."""
    cache = current_app.extensions.setdefault("tthc_integrity", {})
    if "at" not in cache or time.monotonic() - cache["at"] > CHECK_SECONDS:
        cache["problem"] = check_database()
        cache["at"] = time.monotonic()
    return cache["problem"]


@bp.get("/readyz")
def readyz() -> Any:
    """Readiness: the database answers, passes `PRAGMA quick_check` and its schema is current."""
    try:
        problem = _integrity_problem()
        if problem:
            return jsonify(status="damaged", database=settings()["DATABASE"], problem=problem), 503
        store = get_store()
        pending = store.pending_migrations()
        ok = store.ping() and not pending
    except Exception as exc:  # any database failure means "not ready", never a 500
        return jsonify(status="unavailable", database=str(exc)), 503
    body = {"status": "ok" if ok else "unavailable", "database": settings()["DATABASE"],
            "pending_migrations": pending}
    return jsonify(body), 200 if ok else 503


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics: requests and latencies by endpoint, probe verdicts, last sweep."""
    reg = current_app.extensions["tthc_metrics"]["registry"]
    return Response(generate_latest(reg), mimetype=CONTENT_TYPE_LATEST)
