#!/usr/bin/env python3
"""Render PNG screenshots of the dashboard's main pages into docs/screenshots/ with chromium.

    python scripts/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]

Starts the registry on a fresh temporary database with the hanoi-2021 fixture (and, when the
probe engine is installed, the mock portal and one sweep so that the probe pages have
evidence), signs in as an editor of "Sở Tư pháp", and saves: overview, procedures (a search
without diacritics), a procedure's detail page, the probe runs and a run's page, plus the
overview at phone width. Only 127.0.0.1 is contacted.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from werkzeug.serving import make_server

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EDITOR = ("tuphap", "mat-khau-tu-phap", "Sở Tư pháp")
ADMIN = ("quantri", "mat-khau-quan-tri")
DETAIL_CODE = "1.001193"


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve a WSGI app on a free 127.0.0.1 port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def prepare(db: Path, portal_url: str) -> Any:
    """The registry app on a fresh database: fixture, an editor and an administrator."""
    from registry import auth, create_app
    from registry.seeding import load_fixture
    from registry.store import open_store

    app = create_app({"DATABASE": str(db), "SECRET_KEY": "screenshots", "PORTAL_URL": portal_url,
                      "PROBE_RETRIES": 0})
    with open_store(db) as store:
        load_fixture(store, "hanoi-2021")
        auth.add_user(store, EDITOR[0], EDITOR[1], "editor", [EDITOR[2]], actor="screenshots")
        auth.add_user(store, ADMIN[0], ADMIN[1], "admin", [], actor="screenshots")
        # One change through the store, so that the detail page has an audit trail to show.
        rec = store.get_procedure(DETAIL_CODE)
        store.update_procedure(DETAIL_CODE, {"sso": not rec["sso"]}, expected_version=rec["version"],
                               actor=EDITOR[0], source="dashboard")
    return app


def login(page: Any, base: str, username: str, password: str) -> None:
    """Sign in through the login form."""
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def run_sweep(page: Any, base: str, out: Path) -> None:
    """Start a sweep from the probe runs page and wait (bounded) for it to finish."""
    login(page, base, *ADMIN)
    page.goto(f"{base}/probes")
    if page.locator("#start-sweep").count() == 0:
        print("the probe engine offers no sweep: probe pages stay empty", file=sys.stderr)
        return
    page.click("#start-sweep button[type=submit]")
    page.wait_for_load_state()
    for _ in range(300):  # at most ~5 minutes
        status = page.get_attribute("#run-status", "data-status")
        if status != "running":
            break
        time.sleep(1)
        page.reload()
    page.screenshot(path=str(out / "probe-run.png"), full_page=False)
    page.click("header form button[type=submit]")  # sign out


def shoot(base: str, out: Path, chromium: str, with_sweep: bool) -> list[Path]:
    """Take the screenshots; returns the files written."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        if with_sweep:
            run_sweep(page, base, out)
        login(page, base, EDITOR[0], EDITOR[1])
        shots = [("overview.png", "/"), ("procedures.png", "/procedures?q=dang+ky+khai+sinh"),
                 ("procedure-detail.png", f"/procedures/{DETAIL_CODE}"), ("probe-runs.png", "/probes"),
                 ("breakdown-agency.png", "/breakdowns/agency"), ("discrepancies.png", "/discrepancies")]
        for name, path in shots:
            page.goto(base + path)
            # Long tables: the first screenful is enough (and keeps the PNGs small).
            page.screenshot(path=str(out / name),
                            full_page=name not in ("breakdown-agency.png", "discrepancies.png"))
        phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="vi-VN",
                                 device_scale_factor=1)
        phone.goto(base + "/")
        phone.screenshot(path=str(out / "overview-phone.png"), full_page=False)
        browser.close()
    return sorted(out.glob("*.png"))


def main() -> int:
    """Parse arguments, start the servers, take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--no-sweep", action="store_true", help="do not start the mock portal and a sweep")
    args = parser.parse_args()
    from registry.dashboard.sweeps import can_start
    with_sweep = (not args.no_sweep and can_start()
                  and importlib.util.find_spec("mock_portal") is not None)
    with tempfile.TemporaryDirectory() as tmp:
        if with_sweep:
            from mock_portal.app import create_app as portal_app
            portal_cm = serve(portal_app("hanoi-2021"))
        else:
            portal_cm = None
        portal_url = portal_cm.__enter__() if portal_cm else ""
        try:
            app = prepare(Path(tmp) / "registry.db", portal_url)
            with serve(app) as base:
                files = shoot(base, args.out, args.chromium, with_sweep)
        finally:
            if portal_cm:
                portal_cm.__exit__(None, None, None)
    for f in files:
        print(f.relative_to(REPO) if f.is_relative_to(REPO) else f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
