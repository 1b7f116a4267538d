"""Starting sweeps: now (CLI, `tthc up`), in a background process (API, dashboard), on a schedule.

One sweep at a time per database: the store refuses a second running run (`SweepBusy`), so
the rule holds across processes (gunicorn workers, the CLI, the scheduler of `tthc up`).
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from datetime import datetime
from typing import Any, Mapping, Sequence

from flask import Flask
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from connectors import Verdict

from .. import errors
from ..store import Store, SweepBusy, now_iso, open_store
from .dossiers import KIND as DOSSIER_KIND
from .dossiers import check_dossiers
from .config import portal_config, sweep_options
from .plan import (Item, check_selection, dimensions_of, payment_not_due, plan_items, selected_codes,
                   selection_doc)
from .runner import execute, log_progress

log = logging.getLogger("tthc.probing")

_background: dict[int, subprocess.Popen] = {}


class NothingToResume(errors.NotFound):
    """`--resume` was asked but no interrupted run exists."""


def _settings(app: Flask) -> Mapping[str, Any]:
    return app.config["TTHC"]


def _open(cfg: Mapping[str, Any]) -> Store:
    # Each sweep (and each thread) has its own SQLite connection.
    return open_store(cfg["DATABASE"], cfg["BUSY_TIMEOUT_MS"], migrate=False)


def _procedures(store: Store, codes: Sequence[str] | None, *, strict: bool) -> list[dict[str, Any]]:
    if codes is None:
        return store.all_procedures()
    found = store.procedures_by_code(codes)
    if strict:
        return list(check_selection(codes, found))
    return [p for p in found if p["status"] == "active"]  # a resumed run skips what was retired since


def prepare(store: Store, cfg: Mapping[str, Any], *, kind: str = "all", codes: Sequence[str] | None = None,
            actor: str = "system", resume: bool | int = False) -> tuple[dict[str, Any], list[Item], int]:
    """Open the run (new, or the interrupted one to resume) and list what it must probe.

    Returns (run, items left, items already finished). Raises ProbeConfigError, SelectionError,
    NothingToResume or SweepBusy before anything is probed.
    """
    portal_config(cfg)  # a sweep that cannot reach a portal is refused before it is opened
    options = sweep_options(cfg)
    if resume:
        run = (store.last_interrupted_run(options.lease_seconds) if resume is True
               else store.get_run(int(resume)))
        if run is None:
            raise NothingToResume("no interrupted sweep to resume")
        run = store.resume_run(run["id"], lease_seconds=options.lease_seconds)
        return run, *_left(store, run)
    dims = dimensions_of(kind)
    codes = None if codes is None else list(dict.fromkeys(codes))
    not_due: set[str] = set()
    selection = selection_doc(codes)
    if "payment" in dims:
        not_due, why = payment_not_due(store.payment_evidence_times(),
                                       float(cfg.get("PAYMENT_PROBE_INTERVAL_DAYS", 7.0)),
                                       datetime.fromisoformat(now_iso()), cadence=codes is None)
        if any(why.values()):
            selection["payment_skipped"] = why
    items = plan_items(_procedures(store, codes, strict=True), kind, payment_not_due=not_due)
    run = store.start_run(kind=kind, selection=selection, total=len(items), actor=actor,
                          lease_seconds=options.lease_seconds, plan=[i.key for i in items])
    return run, items, 0


def _left(store: Store, run: dict[str, Any]) -> tuple[list[Item], int]:
    """What a run has left to probe (its plan minus what it stored) and how much it finished."""
    finished = store.finished_items(run["id"])
    procedures = _procedures(store, selected_codes(run["selection"]), strict=False)
    return plan_items(procedures, run["kind"], finished, planned=store.run_plan(run["id"])), len(finished)


class _RichProgress:
    """A progress bar on stderr: items done, elapsed, remaining, and the unknowns so far."""

    def __init__(self, total: int, done: int) -> None:
        self.bar = Progress(TextColumn("[bold]probing[/]"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[note]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=False)
        self.task = self.bar.add_task("probe", total=total, completed=done, note="")

    def advance(self, item: Item, verdict: Verdict, counts: Mapping[str, int]) -> None:
        unknown = sum(v for k, v in counts.items() if k.endswith(".unknown"))
        self.bar.update(self.task, advance=1, note=f"unknown {unknown}" if unknown else "")

    def __enter__(self) -> "_RichProgress":
        self.bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.stop()


def sweep_now(app: Flask, kind: str = "all", actor: str = "cli", progress: bool = False, *,
              codes: Sequence[str] | None = None, resume: bool | int = False,
              stop: threading.Event | None = None) -> dict[str, Any]:
    """Run a sweep in this thread until it ends; returns the finished run (see store.get_run).

    Kind `dossier_sync` checks queued dossiers on DVCQG; `all` (every procedure) does it too,
    after the procedure sweep (that run is the one returned)."""
    cfg = _settings(app)
    if kind == DOSSIER_KIND:
        with _open(cfg) as store:
            return check_dossiers(store, cfg, actor=actor, stop=stop)
    with _open(cfg) as store:
        run, items, done = prepare(store, cfg, kind=kind, codes=codes, actor=actor, resume=resume)
        options = sweep_options(cfg)
        if not progress:
            run = execute(store, cfg, options, run, items, done=done, stop=stop)
        else:
            with _RichProgress(total=done + len(items), done=done) as bar:
                run = execute(store, cfg, options, run, items, done=done, progress=bar, stop=stop)
        if kind == "all" and codes is None and not resume and run["status"] == "completed":
            dossier_run = check_dossiers(store, cfg, actor=actor, stop=stop)
            log.info("dossier check %s: %s", dossier_run["id"], dossier_run["message"])
        return run


def continue_run(cfg: Mapping[str, Any], run_id: int) -> dict[str, Any]:
    """Probe what a run opened by `prepare` (status running) has left; used by the worker process."""
    with _open(cfg) as store:
        run = store.get_run(run_id)
        if run["status"] != "running":
            return run
        items, done = _left(store, run)
        return execute(store, cfg, sweep_options(cfg), run, items, done=done, progress=log_progress())


def start_sweep_in_background(app: Flask, kind: str = "all", actor: str = "api", *,
                              codes: Sequence[str] | None = None,
                              resume: bool | int = False) -> dict[str, Any]:
    """Open a run now (SweepBusy if one is running) and probe it in a worker process; returns the run.

    A process, not a thread: a sweep keeps a CPU busy for seconds, and in a web worker it would
    starve that worker's request threads of the GIL. The run's heartbeat lease covers the hand-over.
    """
    cfg = _settings(app)
    with _open(cfg) as store:
        run, _items, _done = prepare(store, cfg, kind=kind, codes=codes, actor=actor, resume=resume)
    for run_id, proc in list(_background.items()):  # reap finished workers
        if proc.poll() is not None:
            _background.pop(run_id, None)
    env = {**os.environ, **{f"TTHC_{name}": str(value) for name, value in cfg.items()}}
    _background[run["id"]] = subprocess.Popen([sys.executable, "-m", "registry.probing", str(run["id"])],
                                              env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return run


# The dashboard knows the background sweep by this shorter name.
start_sweep = start_sweep_in_background


def wait_background(run_id: int, timeout: float) -> bool:
    """Wait (bounded) for a background sweep started by this process to end; True if it has."""
    proc = _background.get(run_id)
    if proc is None:
        return True
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return False
    _background.pop(run_id, None)
    return True


def start_scheduler(app: Flask, minutes: float, stop: threading.Event) -> threading.Thread | None:
    """Sweep every `minutes` in a daemon thread until `stop` is set (None when minutes <= 0).

    The first sweep comes one interval after the start (`tthc up` has just made one). A tick
    while another sweep runs is skipped, never queued.
    """
    if minutes <= 0:
        return None

    def loop() -> None:
        while not stop.wait(minutes * 60):
            try:
                run = sweep_now(app, kind="all", actor="scheduler", stop=stop)
                log.info("scheduled sweep %s: %s", run["id"], run["status"])
            except SweepBusy as exc:
                log.info("scheduled sweep skipped: %s", exc)
            except Exception:  # keep the schedule alive; the run (if any) records the failure
                log.exception("scheduled sweep failed")

    thread = threading.Thread(target=loop, name="tthc-sweep-scheduler", daemon=True)
    thread.start()
    return thread
