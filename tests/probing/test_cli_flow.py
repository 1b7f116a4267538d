"""The whole flow from the command line, against a portal process started on its own and named
only by TTHC_PORTAL_URL (every other setting left at its default)."""
from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

from .conftest import TTHC, cli_env


def _tthc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*TTHC, *args], env=env, capture_output=True, text=True, timeout=300)


def test_probe_and_report_with_only_the_portal_url(portal, tmp_path: Path, world, declared):
    env = cli_env(tmp_path / "fresh.db", portal.url)
    assert _tthc(env, "init").returncode == 0
    assert _tthc(env, "fixtures", "load", "hanoi-2021").returncode == 0
    expected = {kind: codes[:2] for kind, codes in world["expected_discrepancies"].items()}
    ours = world["integrations"]["000.00.00.H26"]
    odd = {c for cs in world["expected_discrepancies"].values() for c in cs}
    fine = sorted(set(ours) - odd - set(world["broken_links"]))[:10]
    codes = sorted({c for cs in expected.values() for c in cs} | set(fine))
    probe = _tthc(env, "probe", "--no-progress", *codes)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith("sweep 1: completed")
    rows = json.loads(_tthc(env, "discrepancies", "--json").stdout)
    assert {(r["kind"], r["code"]) for r in rows} == {(k, c) for k, cs in expected.items() for c in cs}
    table = _tthc(env, "discrepancies", "--csv").stdout
    assert len(list(csv.DictReader(io.StringIO(table)))) == len(rows)
    report = json.loads(_tthc(env, "coverage", "--json", "--basis", "verified").stdout)
    assert report["basis"] == "verified"
    integrated = next(i for i in report["indicators"] if i["id"] == "dvcqg_integration_rate")
    # Verified integration: found integrated for our unit with a working link, and online.
    confirmed = {c for c in codes if c in ours and c not in world["broken_links"]
                 and declared[c]["service_level"] in (3, 4)}
    assert integrated["numerator"] == len(confirmed)
    as_json = json.loads(_tthc(env, "probe", "--no-progress", "--json", "--kind", "payment", *codes).stdout)
    assert as_json["id"] == 2 and as_json["status"] == "completed" and as_json["kind"] == "payment"
    assert set(as_json["counts"]) <= {"payment.payment_ready", "payment.payment_not_configured"}


def test_probe_exits_1_when_the_portal_is_unavailable(portal, tmp_path: Path):
    env = cli_env(tmp_path / "fresh.db", portal.url, PROBE_BACKOFF=0.01, PROBE_CONCURRENCY=4)
    assert _tthc(env, "fixtures", "load", "hanoi-2021").returncode == 0
    portal.admin("POST", "/faults", json={"profile": "down", "replace": True})
    probe = _tthc(env, "probe", "--all")  # with the progress bar (stderr)
    assert probe.returncode == 1
    assert "portal_unavailable" in probe.stdout and "not probed" in probe.stdout
