"""Done-when of federation: five real tthc servers (different units) federated by a sixth."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server

from registry import create_app
from registry.store import open_store

UNITS = 5


class Switch:
    """WSGI middleware: the unit answers normally, with garbage, or with a newer method."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.mode = "normal"

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        if self.mode == "garbage":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b"{\"method\": \"tthc-coverage/1\", truncated"]
        if self.mode == "newer":
            environ.pop("HTTP_IF_NONE_MATCH", None)  # a full answer to rewrite
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list, exc_info: Any = None) -> Any:
                captured["status"], captured["headers"] = status, headers
                return lambda data: None
            body = b"".join(self.app(environ, capture))
            doc = json.loads(body)
            doc["method"] = "tthc-coverage/9"
            out = json.dumps(doc).encode()
            headers = [(k, v) for k, v in captured["headers"] if k.lower() not in ("content-length", "etag")]
            start_response(captured["status"], headers + [("Content-Length", str(len(out)))])
            return [out]
        return self.app(environ, start_response)


class Unit:
    def __init__(self, index: int, root: Path, rows: list[dict]) -> None:
        self.code = f"000.00.00.U{index:02d}"
        self.db_path = root / f"unit{index}.db"
        app = create_app({"DATABASE": str(self.db_path), "TESTING": True, "SECRET_KEY": "t",
                          "UNIT_CODE": self.code, "UNIT_NAME": f"Đơn vị {index}"})
        store = open_store(self.db_path)
        # Different generated units: a different slice of the catalogue, levels shifted.
        picked = [dict(r) for r in rows[index * 120:(index + 1) * 120 + index * 37]]
        for n, row in enumerate(picked):
            if (n + index) % 3 == 0:
                row["service_level"], row["online_mode"] = 4, "toan_trinh"
            row["dvcqg_integrated"] = (n * (index + 2)) % 5 < 2
        store.apply_import(picked, actor="test", source="test")
        store.close()
        self.switch = Switch(app)
        self.server = make_server("127.0.0.1", 0, self.switch, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(timeout=10)
        self.server.server_close()

    def report(self, basis: str) -> dict[str, Any]:
        return httpx.get(f"{self.url}/api/v1/coverage", params={"basis": basis}, timeout=30).json()


@pytest.fixture
def units(tmp_path: Path, hanoi_rows: list[dict]) -> Iterator[list[Unit]]:
    started = [Unit(i, tmp_path, hanoi_rows) for i in range(UNITS)]
    try:
        yield started
    finally:
        for unit in started:
            unit.stop()


@pytest.fixture
def national(tmp_path: Path):
    open_store(tmp_path / "national.db").close()  # the factory never creates the database
    app = create_app({"DATABASE": str(tmp_path / "national.db"), "TESTING": True, "SECRET_KEY": "t",
                      "FEDERATION_RETRIES": 1, "FEDERATION_TIMEOUT": 10.0})
    return app


def _cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["federation", *args], catch_exceptions=False)


def _federated(app: Any, basis: str = "declared") -> dict[str, Any]:
    resp = app.test_client().get(f"/api/v1/federation/coverage?basis={basis}")
    assert resp.status_code == 200
    return resp.get_json()


def _indicator_sums(reports: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    sums: dict[str, list[int]] = {}
    for report in reports:
        for item in report["indicators"]:
            if item["available"]:
                acc = sums.setdefault(item["id"], [0, 0])
                acc[0] += item["numerator"]
                acc[1] += item["denominator"]
    return {k: (n, d) for k, (n, d) in sums.items()}


def _outcomes(output: str) -> dict[tuple[str, str], str]:
    rows = [line.split("\t") for line in output.splitlines() if line.count("\t") >= 2]
    return {(r[0], r[1]): r[2] for r in rows}


def test_five_units_federated_summed_flagged_and_conditional(units: list[Unit], national: Any) -> None:
    for unit in units:
        result = _cli(national, "add", unit.code, unit.url, "--name", f"Đơn vị {unit.code[-2:]}")
        assert result.exit_code == 0, result.output
    first = _cli(national, "pull")
    assert first.exit_code == 0, first.output
    assert set(_outcomes(first.output).values()) == {"changed"} and len(_outcomes(first.output)) == 2 * UNITS

    for basis in ("declared", "verified"):
        expected = [unit.report(basis) for unit in units]
        report = _federated(national, basis)
        sums = {i["id"]: (i["numerator"], i["denominator"]) for i in report["indicators"]}
        assert sums == _indicator_sums(expected)
        assert report["totals"]["procedures"] == sum(r["totals"]["procedures"] for r in expected)
        if basis == "verified":  # claimed but not confirmed by probes: summed too
            for item in report["indicators"]:
                assert item["claimed_unconfirmed"] == sum(
                    next(i["claimed_unconfirmed"] for i in r["indicators"] if i["id"] == item["id"]) for r in expected)
        assert {u["code"]: u["status"] for u in report["units"]} == {u.code: "ok" for u in units}
        integration = next(i for i in report["indicators"] if i["id"] == "dvcqg_integration_rate")
        assert integration["units"] == UNITS
        # Percent from the summed counts, never an average of the units' percents.
        assert integration["percent"] == int(integration["numerator"] * 10000 / integration["denominator"]) / 100

    before = _federated(national)
    by_unit = {u["code"]: u for u in before["units"]}
    ranks = sorted(next(i["rank"] for i in u["indicators"] if i["id"] == "online_rate") for u in before["units"])
    assert ranks[0] == 1 and len(ranks) == UNITS

    # Unchanged units answer 304; a write on one unit changes its next pull.
    with open_store(units[3].db_path) as store:
        code = store.all_procedures()[0]["code"]
        store.update_procedure(code, {"service_level": 2}, expected_version=None, actor="t", source="api")
    second = _outcomes(_cli(national, "pull").output)
    assert second[(units[3].code, "declared")] == "changed"
    assert {k: v for k, v in second.items() if k[0] != units[3].code} == {
        (u.code, b): "not_modified" for u in units if u is not units[3] for b in ("declared", "verified")}
    with open_store(national.config["TTHC"]["DATABASE"]) as store:
        pull = store.last_pull(units[0].code, "declared")
        assert pull["http_status"] == 304 and pull["evidence"][-1]["status"] == 304
    after_write = _federated(national)
    assert _indicator_sums([u.report("declared") for u in units]) == {
        i["id"]: (i["numerator"], i["denominator"]) for i in after_write["indicators"]}
    assert after_write["totals"]["by_level"] != before["totals"]["by_level"]

    # Down, garbage, newer method: each flagged with its reason; the last good snapshot stays.
    units[0].stop()
    units[1].switch.mode = "garbage"
    units[2].switch.mode = "newer"
    third = _cli(national, "pull")
    assert third.exit_code == 1
    outcomes = _outcomes(third.output)
    for unit in units[:3]:
        assert outcomes[(unit.code, "declared")] == "failed"
    assert "invalid report: unknown method 'tthc-coverage/9'" in third.output
    assert "not a JSON object" in third.output
    assert "no answer: connection_error" in third.output
    flagged = _federated(national)
    rows = {u["code"]: u for u in flagged["units"]}
    for unit in units[:3]:
        assert rows[unit.code]["status"] == "failing" and rows[unit.code]["included"]
        assert rows[unit.code]["indicators"] == by_unit[unit.code]["indicators"] or unit is units[3]
        assert rows[unit.code]["last_pull"]["outcome"] == "failed"
    assert sorted(flagged["failing"]) == sorted(u.code for u in units[:3])
    assert flagged["indicators"] == after_write["indicators"]

    csv_text = national.test_client().get("/api/v1/federation/coverage?format=csv").get_data(as_text=True)
    lines = csv_text.splitlines()
    assert lines[0].startswith("scope,unit_code,unit_name,status")
    assert sum(line.startswith("national,") for line in lines) == len(flagged["indicators"])
    assert any(line.startswith(f"unit,{units[0].code},") and ",failing," in line for line in lines)
