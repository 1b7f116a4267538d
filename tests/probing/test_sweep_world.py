"""A full sweep over the shipped world finds exactly its deliberate discrepancies, and the
verified coverage, the procedure bodies and the probe history reflect it (API, CLI, CSV)."""
from __future__ import annotations

import csv
import io
import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from registry import probing
from registry.store import open_store

from .conftest import make_app


@pytest.fixture(scope="module")
def swept(portal_process, hanoi_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One sweep of every active procedure against the shipped world (kind all)."""
    portal_process.admin("POST", "/reset", json={"faults": True, "seed": 0})
    path = tmp_path_factory.mktemp("swept") / "registry.db"
    shutil.copyfile(hanoi_db, path)
    app = make_app(path, portal_process.url, PROBE_CONCURRENCY=32)
    run = probing.sweep_now(app, kind="all", actor="test")
    return {"db": path, "run": run, "url": portal_process.url}


@pytest.fixture
def swept_app(swept: dict[str, Any], tmp_path: Path):
    """An app on a private copy of the swept database."""
    path = tmp_path / "registry.db"
    shutil.copyfile(swept["db"], path)
    return make_app(path, swept["url"])


def _expected_rows(world: dict[str, Any]) -> set[tuple[str, str]]:
    return {(kind, code) for kind, codes in world["expected_discrepancies"].items() for code in codes}


def test_sweep_completes_and_probes_every_item(swept, declared):
    run = swept["run"]
    fee_bearing = sum(1 for p in declared.values() if p["has_fee"])
    assert run["status"] == "completed"
    assert run["total"] == run["done"] == len(declared) + fee_bearing
    assert "linkage.unknown" not in run["counts"] and "payment.unknown" not in run["counts"]


def test_sweep_finds_exactly_the_deliberate_discrepancies(swept_app, world):
    with open_store(swept_app.config["TTHC"]["DATABASE"]) as store:
        rows = probing.discrepancies(store)
    found = {(r["kind"], r["code"]) for r in rows}
    assert found == _expected_rows(world)
    assert len(rows) == len(found)  # one row per disagreement


def test_discrepancy_rows_say_what_was_declared_and_observed(swept_app, world, declared):
    with open_store(swept_app.config["TTHC"]["DATABASE"]) as store:
        rows = {(r["kind"], r["code"]): r for r in probing.discrepancies(store)}
    mismatch = world["expected_discrepancies"]["level_mismatch"][0]
    row = rows[("level_mismatch", mismatch)]
    assert row["declared"] == str(declared[mismatch]["service_level"])
    assert row["observed"] == world["integrations"]["000.00.00.H26"][mismatch]
    assert row["name"] == declared[mismatch]["name"] and row["agency"] == declared[mismatch]["agency"]
    paygov_only = [c for c in world["expected_discrepancies"]["undeclared_payment"]
                   if c in world["payments"]["paygov"]["HNI"]]
    assert paygov_only, "the world configures some undeclared payments on PayGov only"
    for code in paygov_only:
        assert rows[("undeclared_payment", code)]["observed"] == "paygov"
        assert rows[("undeclared_payment", code)]["declared"] == "none"
    for code in world["expected_discrepancies"]["not_listed"]:
        assert rows[("not_listed", code)]["declared"] == "integrated"
        assert rows[("not_listed", code)]["checked_at"]


def test_api_and_cli_report_the_same_discrepancies_as_json_and_csv(swept_app, world):
    client = swept_app.test_client()
    body = client.get("/api/v1/discrepancies").get_json()
    assert body["total"] == len(_expected_rows(world))
    assert body["by_kind"] == {k: len(v) for k, v in world["expected_discrepancies"].items()}
    resp = client.get("/api/v1/discrepancies", headers={"Accept": "text/csv"})
    assert resp.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert {(r["kind"], r["code"]) for r in table} == _expected_rows(world)
    only = client.get("/api/v1/discrepancies?kind=link_broken&format=csv").get_data(as_text=True)
    assert {r["code"] for r in csv.DictReader(io.StringIO(only))} == \
        set(world["expected_discrepancies"]["link_broken"])
    runner = swept_app.test_cli_runner()
    out = runner.invoke(args=["discrepancies", "--json"])
    assert out.exit_code == 0, out.output
    assert {(r["kind"], r["code"]) for r in json.loads(out.stdout)} == _expected_rows(world)
    out = runner.invoke(args=["discrepancies", "--csv"])
    assert {(r["kind"], r["code"]) for r in csv.DictReader(io.StringIO(out.stdout))} == _expected_rows(world)


def _integration(report: dict[str, Any]) -> dict[str, Any]:
    return next(i for i in report["indicators"] if i["id"] == "dvcqg_integration_rate")


@pytest.mark.parametrize("via", ["api", "cli"])
def test_verified_coverage_counts_only_confirmed_integrations(swept_app, world, declared, via):
    exp = world["expected_discrepancies"]
    unconfirmed = set(exp["not_listed"]) | set(exp["not_integrated"]) | set(exp["link_broken"])
    online = {c for c, p in declared.items() if p["service_level"] in (3, 4)}
    claimed = {c for c, p in declared.items() if p["dvcqg_integrated"]} & online
    confirmed = (claimed - unconfirmed) | (set(exp["undeclared_integrated"]) & online)
    if via == "api":
        report = swept_app.test_client().get("/api/v1/coverage?basis=verified").get_json()
    else:
        out = swept_app.test_cli_runner().invoke(args=["coverage", "--json", "--basis", "verified"])
        assert out.exit_code == 0, out.output
        report = json.loads(out.stdout)
    item = _integration(report)
    assert item["numerator"] == len(confirmed)
    assert item["denominator"] == len(online)
    assert item["claimed_unconfirmed"] == len(claimed & unconfirmed)
    assert report["freshness"]["unverified"] == 0
    declared_report = swept_app.test_client().get("/api/v1/coverage?basis=declared").get_json()
    assert _integration(declared_report)["numerator"] == len(claimed)


def test_verified_coverage_csv_carries_the_verified_figures(swept_app, world, declared):
    out = swept_app.test_cli_runner().invoke(args=["coverage", "--csv", "--basis", "verified"])
    rows = {r["indicator"]: r for r in csv.DictReader(io.StringIO(out.stdout)) if r["scope"] == "total"}
    fee_bearing = {c for c, p in declared.items() if p["has_fee"]}
    refused = set(world["expected_discrepancies"]["payment_not_configured"])
    payable = {c for c, p in declared.items() if p["payment_channel"] != "none"}
    ready = (payable - refused) | set(world["expected_discrepancies"]["undeclared_payment"])
    assert int(rows["online_payment_rate"]["numerator"]) == len(ready & fee_bearing)
    assert int(rows["online_payment_rate"]["denominator"]) == len(fee_bearing)


def test_procedure_body_and_history_carry_the_evidence(swept_app, world):
    client = swept_app.test_client()
    broken = world["expected_discrepancies"]["link_broken"][0]
    body = client.get(f"/api/v1/procedures/{broken}").get_json()
    assert body["linkage"]["verdict"] == "link_broken" and body["linkage"]["stale"] is False
    history = client.get(f"/api/v1/procedures/{broken}/probes?dimension=linkage").get_json()
    assert history["total"] == 1 and history["latest"]["linkage"]["verdict"] == "link_broken"
    attempt = history["items"][0]
    deep_links = [c for c in attempt["evidence"] if c["service"] == "deep_link"]
    mode = world["broken_links"][broken]
    # The shared portal is a single-page app (mock_portal's default, like today's portal): the
    # deep link answers the app shell, and two readings of the catalogue detail say it is broken.
    assert attempt["details"]["portal_style"] == "spa"
    assert deep_links and all(c["status"] == 200 and c["outcome"] == "app_shell" for c in deep_links)
    details = [c for c in attempt["evidence"] if c["service"] == "catalog.detail"]
    assert len(details) == 2
    if mode == "404":  # the detail is missing
        assert all(c["error_code"] == "NOT_FOUND" for c in details)
    expected = {"404": "refused", "410": "state is INACTIVE", "wrong_page": "no ONLINE"}[mode]
    assert expected in attempt["details"]["reason"]
    assert client.get("/api/v1/procedures/9.999999/probes").status_code == 404


def test_run_is_listed_with_its_attempts(swept_app, swept):
    client = swept_app.test_client()
    runs = client.get("/api/v1/probe-runs").get_json()
    # A sweep of kind `all` over every procedure is followed by the dossier check (its own run).
    procedure_runs = [r for r in runs["items"] if r["kind"] != "dossier_sync"]
    assert len(procedure_runs) == 1 and procedure_runs[0]["id"] == swept["run"]["id"]
    assert [r["kind"] for r in runs["items"]] == ["dossier_sync", "all"]
    one = client.get(f"/api/v1/probe-runs/{swept['run']['id']}").get_json()
    assert one["status"] == "completed" and one["counts"] == swept["run"]["counts"]
    page = client.get(f"/api/v1/probe-runs/{swept['run']['id']}/attempts?per_page=500&page=2").get_json()
    assert page["total"] == swept["run"]["total"] and len(page["items"]) == 500
    by_dim: dict[str, int] = defaultdict(int)
    for key, n in one["counts"].items():
        if not key.endswith("level_mismatch"):
            by_dim[key.split(".")[0]] += n
    assert sum(by_dim.values()) == one["done"]
    assert client.get("/api/v1/probe-runs/999999").status_code == 404
