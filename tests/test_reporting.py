"""The store's SQL cohorts give exactly the report the per-procedure rows give."""
from __future__ import annotations

from datetime import datetime

import pytest

from registry import settings
from registry.coverage import build_report
from registry.reporting import coverage_report
from registry.store import VN_TZ


@pytest.mark.parametrize("group_by", [(), ("agency",), ("level",), ("field",), ("agency", "field")])
def test_cohorts_match_per_procedure_rows(hanoi_store, group_by):
    store = hanoi_store
    store.record_attempts([
        {"code": "1.001193", "dimension": "linkage", "verdict": "integrated",
         "checked_at": "2026-11-20T08:00:00+07:00"},
        {"code": "1.004884", "dimension": "linkage", "verdict": "not_integrated",
         "checked_at": "2026-01-01T08:00:00+07:00"},  # stale
        {"code": "1.004884", "dimension": "payment", "verdict": "payment_ready",
         "checked_at": "2026-11-21T08:00:00+07:00"},
    ])
    store.record_attempts([{"code": "1.000049", "dimension": "linkage", "verdict": "integrated",
                            "checked_at": "2025-01-01T08:00:00+07:00"}])
    store.retire_procedure("1.000049", expected_version=None, actor="t", source="cli")  # leaves freshness
    now = datetime(2026, 11, 22, 10, 0, tzinfo=VN_TZ)
    cfg = settings.load({})
    fast = coverage_report(store, cfg, group_by=group_by, now=now)
    verdicts = store.latest_verdicts()
    rows = [{**r, **verdicts.get(r["code"], {})} for r in store.coverage_rows()]
    slow = build_report(rows, store.list_targets(), as_of=now, now=now, group_by=group_by,
                        unit={"code": cfg["UNIT_CODE"], "name": cfg["UNIT_NAME"]})
    assert fast.pop("$schema") == "/api/v1/schemas/coverage-1.json"
    assert fast == slow
    assert fast["totals"]["procedures"] == 1684
    assert fast["freshness"]["oldest_evidence"] == "2026-01-01T08:00:00+07:00"
