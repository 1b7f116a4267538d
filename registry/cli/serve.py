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

from .. import probing, seeding
from ..context import get_store, settings
from ..settings import SettingsError, check_real_portal

WORLD = "hanoi-2021.json"


def _gunicorn_cmd(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-c", "python:registry.gunicorn_conf", "-b", f"{host}:{port}",
            "registry:create_app()"]


def _default_world() -> str:
    return str(resources.files("fixtures") / "worlds" / WORLD)


PORT = click.IntRange(1, 65535)


@click.command("serve")
@click.option("--host", help="Listen address (default TTHC_HOST).")
@click.option("--port", type=PORT, help="Port (default TTHC_PORT).")
@with_appcontext
def serve_cmd(host: str | None, port: int | None) -> None:
    """Serve the dashboard and the API with gunicorn (production settings), and the sweep scheduler.

    The database is created or upgraded first; the scheduler sweeps every TTHC_SWEEP_INTERVAL_MINUTES
    (0 = off). Ctrl-C / SIGTERM stops the server and the scheduler (an interrupted sweep is resumable).

    \b
    Example:
        tthc serve --host 0.0.0.0 --port 8080
    """
    cfg = settings()
    host = host or cfg["HOST"]
    port = cfg["PORT"] if port is None else port
    _check_settings(cfg)
    _check_port(host, port)
    get_store().migrate()
    with Supervisor() as sup:
        sup.start_server(host, port)
        sup.start_scheduler(cfg)
        sup.print_urls(host, port)
        sup.wait()


@click.command("mock-portal", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def mock_portal_cmd(args: tuple[str, ...]) -> None:
    """Run mock_portal, the stand-in for DVCQG and the payment platforms.

    The options are those of `python -m mock_portal` (one parser, shown by `tthc mock-portal --help`):
    --host, --port, --world (a file or a shipped world such as hanoi-2021), --faults, --seed, ...

    \b
    Example:
        tthc mock-portal --port 8081 --world hanoi-2021 --faults flaky
    """
    from mock_portal.__main__ import main as mock_main
    sys.exit(mock_main(list(args), prog="tthc mock-portal"))


class Supervisor:
    """What `serve` and `up` run: child processes, the scheduler, and SIGTERM/SIGINT handling.

    A signal sets `stopping`; a sweep in progress sees it and stops (interrupted, resumable), and
    leaving the `with` block stops the children (SIGTERM, then SIGKILL after a grace period).
    """

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.stopping = threading.Event()
        self.server: subprocess.Popen | None = None

    def __enter__(self) -> "Supervisor":
        def _stop(signum: int, frame: Any) -> None:
            self.stopping.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        click.echo("stopped.")

    def start(self, name: str, cmd: list[str], **kwargs: Any) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, **kwargs)
        self.procs.append((name, proc))
        return proc

    def start_server(self, host: str, port: int) -> None:
        """gunicorn on host:port; returns once it answers /healthz."""
        self.server = self.start("server", _gunicorn_cmd(host, port), env={**os.environ})
        if not _wait_http(f"http://{host}:{port}/healthz", stop=self.stopping):
            if self.stopping.is_set():
                return
            raise click.ClickException("the server did not come up; see the log above")

    def start_scheduler(self, cfg: dict[str, Any]) -> None:
        minutes = cfg["SWEEP_INTERVAL_MINUTES"]
        if minutes > 0 and probing.start_scheduler(current_app._get_current_object(), minutes,
                                                   stop=self.stopping):
            click.echo(f"scheduler: a sweep every {minutes:g} min")

    def print_urls(self, host: str, port: int) -> None:
        base = f"http://{host}:{port}"
        click.echo(f"dashboard: {base}/\nAPI:       {base}/api/v1\nAPI docs:  {base}/api/docs\n"
                   f"metrics:   {base}/metrics\nCtrl-C stops everything.")

    def wait(self) -> None:
        """Until a signal, or until the server dies (an error)."""
        while not self.stopping.is_set():
            if self.server is not None and self.server.poll() is not None:
                raise click.ClickException(f"the server exited ({self.server.returncode})")
            self.stopping.wait(0.5)
        click.echo("stopping ...")

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


def _start_mock_portal(children: Supervisor, world: str) -> str:
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


def _wait_http(url: str, timeout: float = 30.0, stop: threading.Event | None = None) -> bool:
    import httpx
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (stop and stop.is_set()):
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def _check_settings(cfg: dict[str, Any]) -> None:
    try:
        check_real_portal(cfg)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _check_port(host: str, port: int) -> None:
    """A clear error now, before anything starts, when host:port cannot be listened on."""
    import socket
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@click.command("up")
@click.option("--port", type=PORT, help="Port of the dashboard/API (default TTHC_PORT).")
@click.option("--no-sweep", is_flag=True, help="Skip the first probe sweep.")
@with_appcontext
def up_cmd(port: int | None, no_sweep: bool) -> None:
    """The main job: database, Hà Nội fixture if empty, mock portal, first sweep, scheduler, server.

    Ctrl-C / SIGTERM stops everything within seconds, even during the first sweep (which is then
    left interrupted: `tthc probe --resume` finishes it).

    \b
    Example:
        tthc up
        TTHC_PORTAL_URL=https://portal.example tthc up --port 8080
    """
    cfg = settings()
    host = cfg["HOST"]
    port = cfg["PORT"] if port is None else port
    _check_settings(cfg)
    _check_port(host, port)
    store = get_store()
    store.migrate()
    click.echo(f"database: {Path(store.path).resolve()}")
    if store.count_procedures() == 0:
        result = seeding.load_fixture(store, "hanoi-2021")
        click.echo(f"loaded fixture hanoi-2021: {result['inserted']} procedures, {result['targets']} targets")
    base = f"http://{host}:{port}"
    with Supervisor() as sup:
        portal = cfg["PORTAL_URL"]
        if not portal:
            portal = _start_mock_portal(sup, _default_world())
            click.echo(f"mock portal: {portal} (TTHC_PORTAL_URL is empty)")
            _point_callbacks(portal, base, cfg)
        os.environ["TTHC_PORTAL_URL"] = portal
        cfg["PORTAL_URL"] = portal
        sup.start_server(host, port)
        if not no_sweep and not sup.stopping.is_set():
            click.echo("first probe sweep ...")
            run = probing.sweep_now(current_app._get_current_object(), kind="all", actor="tthc-up",
                                    progress=True, stop=sup.stopping)
            click.echo(f"sweep {run['id']}: {run['status']} ({run['done']}/{run['total']}) {run['counts']}")
        if not sup.stopping.is_set():
            sup.start_scheduler(cfg)
            sup.print_urls(host, port)
        sup.wait()


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
    """Copy the live database to TARGET (online: the server may keep running).

    \b
    Example:
        tthc backup /backups/registry-$(date +%F).db
    """
    store = get_store()
    store.backup_to(target)
    click.echo(f"backup of {store.path} written to {target}")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_cmd(source: Path, yes: bool) -> None:
    """Replace the database's content with a backup made by `tthc backup`.

    \b
    Example:
        tthc restore /backups/registry-2026-11-30.db --yes
    """
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
