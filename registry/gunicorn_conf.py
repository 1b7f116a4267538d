"""gunicorn configuration for production: `gunicorn -c python:registry.gunicorn_conf 'registry:create_app()'`.

Workers and threads come from TTHC_WORKERS / TTHC_THREADS; `tthc serve` passes the bind address.
SQLite serialises writers, so a few processes with threads serve best; more workers mostly add
lock waits. Graceful reload: `kill -HUP <master pid>` starts new workers before the old ones stop.
"""
from __future__ import annotations

import os
import tempfile

# Before anything imports prometheus_client: it picks its multiprocess value class at import time,
# and the workers fork from this (master) process. Set in `on_starting`, it came too late and the
# workers counted nothing visible to /metrics.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tthc-metrics-")

from prometheus_client import multiprocess  # noqa: E402

from registry.settings import load  # noqa: E402

_cfg = load()

bind = f"{_cfg['HOST']}:{_cfg['PORT']}"
workers = _cfg["WORKERS"]
threads = _cfg["THREADS"]
worker_class = "gthread"
timeout = 60            # a worker silent this long is restarted
graceful_timeout = 30   # on SIGTERM/HUP, requests in flight get this long to finish
keepalive = 5
max_requests = 5000     # recycle workers now and then, jittered so they do not all restart at once
max_requests_jitter = 500
accesslog = None        # the app logs every request itself (TTHC_LOG_FORMAT)
errorlog = "-"
proc_name = "tthc"


def child_exit(server, worker) -> None:  # noqa: ANN001
    """Forget the figures of a worker that has gone."""
    multiprocess.mark_process_dead(worker.pid)
