"""Hypothesis against the importers: arbitrary files never crash them and never write part of a file."""
from __future__ import annotations

import csv
import io
import json

from hypothesis import HealthCheck, given, settings, strategies as st

from registry.importer import ImportFileError
from registry.imports import run_import
from registry.store import open_store

FIELDS = ["code", "name", "field", "agency", "service_level", "has_fee", "payment_channel", "sso",
          "dvcqg_integrated", "levels", "status", "colour"]
cell = st.one_of(st.text(max_size=12), st.integers(-3, 9), st.booleans(), st.none(),
                 st.sampled_from(["1.000001", "2.000002", "1.00000", " 1.000003 ", "có", "paygov", "4"]))
row = st.dictionaries(st.sampled_from(FIELDS), cell, max_size=8)


def _payload(kind: str, rows: list[dict]) -> bytes:
    if kind == "json":
        return json.dumps(rows, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if kind == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in rows).encode()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    return buf.getvalue().encode("utf-8", "surrogatepass")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["json", "jsonl", "csv"]), rows=st.lists(row, max_size=6),
       garbage=st.one_of(st.none(), st.binary(max_size=40)))
def test_any_file_is_all_or_nothing(tmp_path_factory, kind, rows, garbage):
    store = open_store(tmp_path_factory.mktemp("fuzz") / "r.db")
    try:
        store.create_procedure({"code": "1.000001", "name": "Có sẵn", "agency": "Sở A"}, actor="t", source="t")
        before = store.all_procedures(include_retired=True), store.count_audit()
        data = garbage if garbage is not None else _payload(kind, rows)
        try:
            report = run_import(store, data, f"f.{kind}", actor="fuzz")
        except ImportFileError:
            report = None
        after = store.all_procedures(include_retired=True), store.count_audit()
        if report is None or report.errors:
            assert after == before  # a refused file writes nothing
        else:
            assert store.count_procedures() == 1 + len(report.inserted)
            for err in report.errors:
                assert err.line >= 1 and err.field
    finally:
        store.close()
