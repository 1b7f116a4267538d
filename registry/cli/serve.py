"""Commands that run things: serve (gunicorn), mock-portal, up (the main job), backup, restore."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import alerts, seeding
from ..context import get_store, settings

WORLD = "hanoi-2021.json"


def _gunicorn_cmd(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-c", "python:registry.gunicorn_conf", "-b", f"{host}:{port}",
            "registry:create_app()"]


def _default_world() -> str:
    return str(resources.files("fixtures") / "worlds" / WORLD)


@click.command("serve")
@click.option("--host", help="Listen address (default TTHC_HOST).")
@click.option("--port", type=int, help="Port (default TTHC_PORT).")
@with_appcontext
def serve_cmd(host: str | None, port: int | None) -> None:
    """Serve the dashboard and the API with gunicorn (production settings)."""
    cfg = settings()
    cmd = _gunicorn_cmd(host or cfg["HOST"], cfg["PORT"] if port is None else port)
    os.execvp(cmd[0], cmd)


@click.command("mock-portal")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=int)
@click.option("--world", type=click.Path(exists=True, dir_okay=False), help="World file (JSON).")
@click.option("--faults", help="Fault profile name or JSON file.")
@click.option("--seed", default=0, show_default=True, type=int)
def mock_portal_cmd(host: str, port: int, world: str | None, faults: str | None, seed: int) -> None:
    """Run mock_portal, the stand-in for DVCQG and the payment platforms."""
    from mock_portal.server import serve
    serve(host=host, port=port, world=world, faults=faults, seed=seed)


class Children:
    """Child processes of `tthc up`, stopped together (SIGTERM, then SIGKILL after a grace period)."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], **kwargs: Any) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, **kwargs)
        self.procs.append((name, proc))
        return proc

    def stop(self, grace: float = 10.0) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, proc in reversed(self.procs):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                click.echo(f"{name} did not stop in time: killing it", err=True)
                proc.kill()
                proc.wait()


def _start_mock_portal(children: Children, world: str) -> str:
    """Start mock_portal on a free port and return its base URL once it listens."""
    proc = children.start("mock_portal", [sys.executable, "-m", "mock_portal", "--host", "127.0.0.1",
                                          "--port", "0", "--world", world, "--seed", "0"],
                          stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "listening on" in line:
            url = line.strip().rsplit(" ", 1)[-1]
            # keep draining its output so a full pipe never blocks it
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return url
    raise click.ClickException("mock_portal did not start")


def _wait_http(url: str, timeout: float = 30.0) -> bool:
    import httpx
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


@click.command("up")
@click.option("--port", type=int, help="Port of the dashboard/API (default TTHC_PORT).")
@click.option("--no-sweep", is_flag=True, help="Skip the first probe sweep.")
@with_appcontext
def up_cmd(port: int | None, no_sweep: bool) -> None:
    """The main job: database, Hà Nội fixture if empty, mock portal, first sweep, scheduler, server."""
    cfg = settings()
    store = get_store()
    click.echo(f"database: {Path(store.path).resolve()}")
    if store.count_procedures() == 0:
        result = seeding.load_fixture(store, "hanoi-2021")
        click.echo(f"loaded fixture hanoi-2021: {result['inserted']} procedures, {result['targets']} targets")
    children = Children()
    stopping = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    host = cfg["HOST"]
    port = cfg["PORT"] if port is None else port
    base = f"http://{host}:{port}"
    try:
        portal = cfg["PORTAL_URL"]
        if not portal:
            portal = _start_mock_portal(children, _default_world())
            click.echo(f"mock portal: {portal} (TTHC_PORTAL_URL is empty)")
            _point_callbacks(portal, base, cfg)
        os.environ["TTHC_PORTAL_URL"] = portal
        cfg["PORTAL_URL"] = portal
        server = children.start("server", _gunicorn_cmd(host, port), env={**os.environ})
        if not _wait_http(f"{base}/healthz"):
            raise click.ClickException("the server did not come up; see the log above")
        probing = _probing()
        if probing and not no_sweep:
            click.echo("first probe sweep ...")
            run = probing.sweep_now(current_app._get_current_object(), kind="all", actor="tthc-up",
                                    progress=True)
            click.echo(f"sweep {run['id']}: {run['status']} ({run['done']}/{run['total']}) {run['counts']}")
        if probing and cfg["SWEEP_INTERVAL_MINUTES"] > 0:
            probing.start_scheduler(current_app._get_current_object(), cfg["SWEEP_INTERVAL_MINUTES"],
                                    stop=stopping)
            click.echo(f"scheduler: a sweep every {cfg['SWEEP_INTERVAL_MINUTES']:g} min")
        if alerts.start_drain(current_app._get_current_object(), stopping):
            click.echo(f"alerts: delivered every {cfg['ALERT_DRAIN_SECONDS']:g} s")
        click.echo(f"dashboard: {base}/\nAPI:       {base}/api/v1\nAPI docs:  {base}/api/docs\n"
                   f"metrics:   {base}/metrics\nCtrl-C stops everything.")
        while not stopping.is_set():
            if server.poll() is not None:
                raise click.ClickException(f"the server exited ({server.returncode})")
            stopping.wait(0.5)
        click.echo("stopping ...")
    finally:
        children.stop()
    click.echo("stopped.")


def _probing() -> Any:
    try:
        from .. import probing
    except ModuleNotFoundError:
        return None
    return probing if hasattr(probing, "sweep_now") else None


def _point_callbacks(portal: str, base: str, cfg: dict[str, Any]) -> None:
    """Tell the mock portal where our payment callback endpoints are (its admin API)."""
    import httpx
    try:
        httpx.put(f"{portal}/_admin/callback-urls", timeout=5.0, json={
            "dvcqg_payment": {cfg["PAYMENT_PARTNER"]: f"{base}/api/v1/payments/dvcqg/confirm"},
            "paygov": {cfg["PAYGOV_PARTNER_CODE"]: f"{base}/api/v1/payments/paygov/ipn"}}).raise_for_status()
    except httpx.HTTPError:
        click.echo("could not register payment callback URLs with the mock portal", err=True)


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_cmd(target: Path) -> None:
    """Copy the live database to TARGET (online: the server may keep running)."""
    store = get_store()
    store.backup_to(target)
    click.echo(f"backup of {store.path} written to {target}")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_cmd(source: Path, yes: bool) -> None:
    """Replace the database's content with a backup made by `tthc backup`."""
    store = get_store()
    if not yes:
        click.confirm(f"Replace everything in {store.path} with {source}?", abort=True)
    try:
        store.restore_from(source)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    store.migrate()
    click.echo(f"restored {store.path} from {source} ({store.count_procedures()} procedures)")


COMMANDS = [serve_cmd, mock_portal_cmd, up_cmd, backup_cmd, restore_cmd]
