"""Federation inputs and edge cases: bad unit codes/URLs, unknown units, scheduled pulls, sums."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from registry import federation
from registry.federation import schedule, summary
from registry.store import VN_TZ


@pytest.mark.parametrize("code, url, field", [
    ("", "http://127.0.0.1:8080", "code"),
    ("000 00", "http://127.0.0.1:8080", "code"),
    ("000.00.00.H26", "ftp://example", "url"),
    ("000.00.00.H26", "not a url", "url"),
])
def test_bad_units_are_refused_naming_the_field(store, code, url, field):
    with pytest.raises(federation.FederationError) as err:
        federation.add_unit(store, code=code, url=url, actor="t", source="cli")
    assert field in err.value.errors
    assert store.list_federation_units() == []


def test_cli_add_list_remove_and_errors(db_path, store, monkeypatch):
    from click.testing import CliRunner

    from registry.cli import main

    monkeypatch.setenv("TTHC_DATABASE", str(db_path))

    class Runner:  # the real `tthc` group: registry errors become one `Error:` line, exit 1
        @staticmethod
        def invoke(args):
            return CliRunner().invoke(main, args)

    runner = Runner()
    ok = runner.invoke(args=["federation", "add", "000.00.00.H29", "http://127.0.0.1:1/",
                             "--name", "UBND  tỉnh  Ninh Bình"])
    assert ok.exit_code == 0, ok.output
    assert store.list_federation_units()[0]["name"] == "UBND tỉnh Ninh Bình"
    assert store.list_federation_units()[0]["url"] == "http://127.0.0.1:1"
    again = runner.invoke(args=["federation", "add", "000.00.00.H29", "http://127.0.0.1:2"])
    assert again.exit_code == 1 and again.output.startswith("Error: ") and "already federated" in again.output
    listed = runner.invoke(args=["federation", "list"])
    assert "000.00.00.H29" in listed.output and "never pulled" in listed.output
    unknown = runner.invoke(args=["federation", "pull", "000.00.00.X"])
    assert unknown.exit_code != 0 and "not federated: 000.00.00.X" in unknown.output
    assert runner.invoke(args=["federation", "remove", "000.00.00.H29"]).exit_code == 0
    gone = runner.invoke(args=["federation", "remove", "000.00.00.H29"])
    assert gone.exit_code == 1 and "not federated" in gone.output
    assert store.list_federation_units() == []
    assert [e["action"] for e in store.list_audit(entity="federation_unit")] == ["delete", "create"]


def test_a_scheduled_pull_runs_at_start_and_records_failures(app, store):
    cfg = {**app.config["TTHC"], "FEDERATION_RETRIES": 0, "FEDERATION_TIMEOUT": 5.0}
    store.add_federation_unit("000.00.00.H29", "http://127.0.0.1:1", "", actor="t", source="cli")
    stop = threading.Event()
    stop.set()  # one pass, then the loop ends
    thread = schedule.start_scheduler(cfg, 60, stop)
    thread.join(30)
    pull = store.last_pull("000.00.00.H29", "declared")
    assert pull["outcome"] == "failed" and pull["reason"].startswith("no answer")
    assert schedule.start_scheduler(cfg, 0, stop) is None


def _snap(code: str, num: int, den: int, at: datetime) -> dict:
    report = {"method": "tthc-coverage/1", "totals": {"procedures": den, "online": den, "by_level": {"4": den}},
              "indicators": [{"id": "online_rate", "available": True, "numerator": num, "denominator": den},
                             {"id": "satisfaction_rate", "available": False, "numerator": None, "denominator": None}]}
    return {"unit_code": code, "method": "tthc-coverage/1", "as_of": at.isoformat(), "pulled_at": at.isoformat(),
            "confirmed_at": at.isoformat(), "report": report}


def test_sums_counts_not_percentages_and_ranks_ties_alike():
    now = datetime(2026, 12, 1, 9, 0, tzinfo=VN_TZ)
    units = [{"code": c, "name": c} for c in ("A", "B", "C", "D")]
    snaps = {"A": _snap("A", 1, 1, now), "B": _snap("B", 10, 100, now), "C": _snap("C", 1, 1, now),
             "D": _snap("D", 50, 50, now - timedelta(hours=49))}
    out = summary.federate(units, snaps, {}, [], basis="declared", moment=now, live=True, stale_hours=48)
    online = out["indicators"][0]
    # (1 + 10 + 1) / 102 = 11.76 %, not the mean of 100 %, 10 % and 100 % (70 %); D is stale.
    assert (online["numerator"], online["denominator"], online["percent"], online["units"]) == (12, 102, 11.76, 3)
    assert [i["id"] for i in out["indicators"]] == ["online_rate"]  # unavailable indicators are not summed
    ranks = {u["code"]: u["indicators"][0]["rank"] for u in out["units"]}
    assert ranks == {"A": 1, "C": 1, "B": 3, "D": None}
    assert out["stale"] == ["D"] and out["totals"]["procedures"] == 102
    trend = summary.trend([snaps["D"], snaps["A"]])
    assert [p["day"] for p in trend["online_rate"]] == ["2026-11-29", "2026-12-01"]
    assert [p["units"] for p in trend["online_rate"]] == [1, 2]
    # With the staleness window, D is left out on the last day, as in the national row.
    fresh = summary.trend([snaps["D"], snaps["A"]], stale_hours=48, now=now)
    assert [(p["units"], p["numerator"], p["denominator"]) for p in fresh["online_rate"]] == [(1, 50, 50), (1, 1, 1)]
