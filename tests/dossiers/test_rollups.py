"""The rollups equal the raw aggregate over the dossier table, whatever the writes (hypothesis)."""
from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.dossier_schemas import normalise_dossier, normalise_rating
from registry.store import open_store
from registry.store.dossiers import COUNTERS

DAY0 = date(2021, 1, 1)
CODES = ["1.000001", "1.000002", "2.000003"]


def stamp(offset: int, hour: int = 9) -> str:
    return (DAY0 + timedelta(days=offset)).strftime("%Y%m%d") + f"{hour:02d}0000"


@st.composite
def dossiers(draw):
    status = draw(st.sampled_from(["1", "2", "3", "4", "5", "7", "9", "10"]))
    received = draw(st.integers(0, 40))
    d = {"MaHoSo": f"HS{draw(st.integers(0, 12)):03d}", "MaTTHC": draw(st.sampled_from(CODES)),
         "TrangThaiHoSo": status, "KenhThucHien": draw(st.sampled_from(["1", "2", "3"])),
         "DuocThanhToanTrucTuyen": draw(st.sampled_from(["1", "3"])),
         "DanhSachLePhi": draw(st.sampled_from([[], [{"MaPhiLePhi": "P1", "SoTien": "50000"}]]))}
    if status != "1":
        d["NgayTiepNhan"] = stamp(received)
    if draw(st.booleans()):
        d["NgayHenTra"] = stamp(received + draw(st.integers(0, 10)), 17)
    if status in ("9", "10"):
        d["NgayKetThucXuLy"] = stamp(received + draw(st.integers(0, 12)), draw(st.integers(0, 23)))
    return d


ops = st.lists(st.one_of(
    st.tuples(st.just("dossier"), dossiers()),
    st.tuples(st.just("rating"), st.fixed_dictionaries({
        "MaHoSo": st.builds(lambda n: f"HS{n:03d}", st.integers(0, 14)), "MaTTHC": st.sampled_from(CODES),
        "MucDoHaiLong": st.sampled_from(["1", "2", "3"]),
        "NgayDanhGia": st.builds(stamp, st.integers(0, 50))})),
    st.tuples(st.just("delete"), st.builds(lambda n: f"HS{n:03d}", st.integers(0, 12))),
    st.tuples(st.just("check"), st.tuples(st.builds(lambda n: f"HS{n:03d}", st.integers(0, 12)),
                                          st.sampled_from(["synced", "missing", "status_behind", "unknown"]))),
), min_size=1, max_size=40)


def apply(store, op):
    kind, value = op
    if kind == "dossier":
        store.write_dossiers([normalise_dossier(value)], create_only=False, source="test")
    elif kind == "rating":
        store.write_ratings([normalise_rating(value)], source="test")
    elif kind == "delete":
        if store.get_dossier(value) is not None:
            store.delete_dossier(value)
    else:
        code, state = value
        queued = {q["mahoso"]: q for q in store.dossier_check_queue(1000)}
        if code in queued:
            store.record_dossier_checks([{"mahoso": code, "state": state, "remote_status": None,
                                          "checked_at": "2021-03-01T00:00:00+07:00",
                                          "updated_at": queued[code]["updated_at"]}])


# Whole months (monthly rollup), days inside a month (daily), and both mixed.
PERIODS = [("2021-01-01", "2021-12-31"), ("2021-01-05", "2021-01-20"), ("2021-02-01", "2021-02-28"),
           ("2021-01-10", "2021-02-28"), ("2020-12-20", "2021-02-03")]
MAIN = ("received", "recv_online", "online_fee_ok", "resolved", "resolved_early", "resolved_on_time",
        "resolved_late", "ratings", "ratings_ok")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops)
def test_rollups_equal_the_raw_aggregate(tmp_path_factory, ops):
    store = open_store(tmp_path_factory.mktemp("r") / "r.db")
    try:
        for op in ops:
            apply(store, op)
        for verified in (False, True):
            for start, end in PERIODS:
                rolled = store.dossier_period_counts(start, end, verified=verified)
                raw = store.dossier_raw_counts(start, end, verified=verified)
                for code in set(rolled) | set(raw):
                    got = {k: (rolled.get(code) or {}).get(k, 0) for k in MAIN}
                    want = {k: (raw.get(code) or {}).get(k, 0) for k in MAIN}
                    assert got == want, (code, start, end, verified)
        # No counter ever goes negative; the monthly rollup is the daily one summed by month.
        assert all(n >= 0 for row in store.rollup_rows().values() for n in row)
        by_month: dict = {}
        for (day, code), row in store.rollup_rows().items():
            acc = by_month.setdefault((day[:7], code), [0] * len(row))
            by_month[(day[:7], code)] = [a + b for a, b in zip(acc, row)]
        monthly = {(m, c): list(r) for m, c, *r in store.db.execute("SELECT * FROM dossier_monthly")}
        assert {k: v for k, v in monthly.items() if any(v)} == {k: v for k, v in by_month.items() if any(v)}
    finally:
        store.close()


def test_deleting_everything_empties_the_rollups(tmp_path):
    store = open_store(tmp_path / "r.db")
    rows = [normalise_dossier({"MaHoSo": f"X{i}", "MaTTHC": "1.000001", "TrangThaiHoSo": "10",
                               "KenhThucHien": "2", "NgayTiepNhan": stamp(i), "NgayHenTra": stamp(i + 3),
                               "NgayKetThucXuLy": stamp(i + 4), "DanhSachLePhi": []}) for i in range(5)]
    store.write_dossiers(rows, create_only=True, source="test")
    assert store.dossier_period_counts("2021-01-01", "2021-12-31")["1.000001"]["resolved_late"] == 5
    for i in range(5):
        store.delete_dossier(f"X{i}")
    assert store.rollup_rows() == {}
    assert not any(any(r[2:]) for r in store.db.execute("SELECT * FROM dossier_monthly"))
    assert len(COUNTERS) == 15
    store.close()
