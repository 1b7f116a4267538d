"""Done-when of issue 12: against a portal shaped like the real ones — every upstream on its own
port, sessions that die after 5 calls while 32 probes share them, a 503 or 429 on the first
attempt of many requests, the citizen pages served as a single-page app or server-rendered — a
sweep of the shipped world reaches every verdict of the world's truth (0 wrong, 0 unknown) and
exactly its 117 discrepancies."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from registry import probing
from registry.store import open_store

from .conftest import PortalProcess, make_app
from .test_faults import _truth

UPSTREAM_SETTINGS = {"dvcqg": "CATALOG_URL", "adapter": "ADAPTER_URL", "payment": "PAYMENT_URL",
                     "lgsp": "LGSP_URL", "paygov": "PAYGOV_URL"}


@pytest.mark.parametrize("style, bulk", [("spa", "full"), ("legacy", "full"), ("spa", "refuse")])
def test_sweep_reaches_the_truth_on_five_hosts_with_churning_sessions_and_first_attempt_faults(
        hanoi_db: Path, tmp_path: Path, world: dict[str, Any], declared: dict[str, Any],
        style: str, bulk: str) -> None:
    portal = PortalProcess("--split", "--style", style, "--session-max-calls", "5",
                           "--faults", "first-attempt", "--laydvc-bulk", bulk)
    try:
        assert set(portal.upstreams) == set(UPSTREAM_SETTINGS)
        db = tmp_path / "registry.db"
        shutil.copyfile(hanoi_db, db)
        # No TTHC_PORTAL_URL at all: one setting per upstream is enough.
        hosts = {setting: portal.upstreams[name] for name, setting in UPSTREAM_SETTINGS.items()}
        app = make_app(db, "", PROBE_CONCURRENCY=32, **hosts)
        run = probing.sweep_now(app, kind="all", actor="test")
        journal = portal.journal()
        rules = {r["name"]: r["fired"] for r in portal.admin("GET", "/faults")["rules"]}
    finally:
        portal.stop()

    assert run["status"] == "completed", run["message"]
    assert not any(key.endswith(".unknown") for key in run["counts"]), run["counts"]
    assert all(n > 0 for n in rules.values()), rules  # the faults really happened
    with open_store(db) as store:
        verdicts = store.latest_verdicts()
        rows = probing.discrepancies(store)
    truth = _truth(world, declared)
    wrong = {c: (verdicts[c]["linkage"]["verdict"], t) for c, t in truth.items()
             if verdicts[c]["linkage"]["verdict"] != t}
    assert wrong == {}
    expected = {(kind, code) for kind, codes in world["expected_discrepancies"].items() for code in codes}
    assert len(expected) == 117
    assert {(r["kind"], r["code"]) for r in rows} == expected and len(rows) == 117
    # Each upstream was asked on its own host, and sessions churned.
    for entry in journal:
        assert entry["headers"]["Host"] == urlsplit(portal.upstreams[entry["upstream"]]).netloc, entry
    logins = sum(1 for e in journal if e["path"] == "/adapter/auth")
    if bulk == "refuse":
        assert "LayDVC by per_code" in run["message"]
        assert logins > len(declared) / 5 / 2  # a session serves 5 calls: hundreds of logins
    else:
        assert "catalogue read by walk, LayDVC by bulk" in run["message"]
