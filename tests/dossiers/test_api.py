"""The one-stop-system simulator over the API: sync a month, update half, rate some; the report's
four indicators equal a hand computation; roles, scope, envelope codes and bad input."""
from __future__ import annotations

from datetime import datetime

import pytest

from .conftest import UNREGISTERED, bearer, month_of_dossiers, resolve

SYNC = "/api/v1/dossiers/sync"
RATINGS = "/api/v1/dossiers/ratings"


def day(stamp: str) -> str:
    return datetime.strptime(stamp, "%Y%m%d%H%M%S").date().isoformat()


def post(client, url, token, body):
    return client.post(url, json=body, headers=bearer(token))


def expected(final: list[dict], ratings: list[dict]) -> dict[str, tuple[int, int]]:
    """The four indicators computed by hand from what was sent (July 2021: every dossier was
    received in July; some finish, and are rated, in August)."""
    levels = {"1.000001": 4, "1.000002": 4, "1.000003": 3, "1.000004": 2, "1.000005": 3, "2.000001": 4}
    online = [c for c, lvl in levels.items() if lvl >= 3]
    generating = {d["MaTTHC"] for d in final if d["KenhThucHien"] == "2"}
    fully = [d for d in final if d["KenhThucHien"] == "2" and levels.get(d["MaTTHC"]) == 4
             and (not d["DanhSachLePhi"] or d["DuocThanhToanTrucTuyen"] == "1")]
    july = ("2021-07-01", "2021-07-31")
    resolved = [d for d in final if d["TrangThaiHoSo"] in ("9", "10")
                and july[0] <= day(d["NgayKetThucXuLy"]) <= july[1]]
    ratings = [r for r in ratings if july[0] <= day(r["NgayDanhGia"]) <= july[1]]
    on_time = [d for d in resolved if day(d["NgayKetThucXuLy"]) <= day(d["NgayHenTra"])]
    return {
        "dossier_online_services_rate": (len([c for c in online if c in generating]), len(online)),
        "dossier_fully_online_rate": (len(fully), len(final)),
        "dossier_on_time_rate": (len(on_time), len(resolved)),
        "satisfaction_rate": (len([r for r in ratings if r["MucDoHaiLong"] in ("1", "2")]), len(ratings)),
    }


def test_a_month_synced_updated_and_rated_gives_the_hand_computed_indicators(client, tokens):
    month = month_of_dossiers()
    for i in range(0, len(month), 20):
        r = post(client, SYNC, tokens["system"], {"isUpdating": "False", "data": month[i:i + 20]})
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["error_code"] == "00"
    assert r.get_json()["unregistered"] == [UNREGISTERED]
    # Half of them resolved, one in seven of those late (finished 6 days after receipt, due after 5).
    updated = [resolve(d, i % 7) if i % 2 == 0 else d for i, d in enumerate(month)]
    r = post(client, SYNC, tokens["system"], {"isUpdating": "True", "data": updated[::2]})
    assert r.get_json()["counts"] == {"created": 0, "updated": 30, "unchanged": 0}
    ratings = [{"MaHoSo": d["MaHoSo"], "MaTTHC": d["MaTTHC"], "MucDoHaiLong": "1" if i % 8 == 0 else "3",
                "NgayDanhGia": d["NgayHenTra"]} for i, d in enumerate(updated) if i % 4 == 0]
    r = post(client, RATINGS, tokens["system"], {"data": ratings})
    assert r.get_json()["error_code"] == "00", r.get_json()

    report = client.get("/api/v1/dossiers/coverage?period=2021-07&group_by=agency").get_json()
    assert report["method"] == "tthc-coverage/2"
    assert report["period"] == {"label": "2021-07", "from": "2021-07-01", "to": "2021-07-31"}
    got = {i["id"]: (i["numerator"], i["denominator"]) for i in report["indicators"] if i["id"] in expected([], [])}
    assert got == expected(updated, ratings)
    assert got["dossier_on_time_rate"][0] < got["dossier_on_time_rate"][1]  # the late ones count
    sat = next(i for i in report["indicators"] if i["id"] == "satisfaction_rate")
    assert sat["target"]["percent"] == 85.0 and sat["met"] is False and sat["needed"] > 0
    assert report["dossiers"]["unregistered"] == [{"code": UNREGISTERED, "received": 1}]
    assert report["dossiers"]["received"]["total"] == 60
    # The verified basis counts only dossiers DVCQG confirmed: none were checked yet.
    verified = client.get("/api/v1/dossiers/coverage?period=2021-07&basis=verified").get_json()
    fully = next(i for i in verified["indicators"] if i["id"] == "dossier_fully_online_rate")
    assert (fully["numerator"], fully["denominator"]) == (0, 0)
    assert fully["claimed_unconfirmed"] == got["dossier_fully_online_rate"][0]
    # /1 is unchanged: its dossier indicators stay unavailable, its ids and figures the same.
    v1 = client.get("/api/v1/coverage").get_json()
    assert v1["method"] == "tthc-coverage/1"
    assert [i["id"] for i in v1["indicators"]] == [i["id"] for i in report["indicators"]]
    for a, b in zip(v1["indicators"], report["indicators"]):
        if a["available"]:
            assert a == b


def test_existing_dossier_with_isupdating_false_answers_04_and_writes_nothing(client, tokens, registry_store):
    month = month_of_dossiers(4)
    assert post(client, SYNC, tokens["system"], {"isUpdating": "False", "data": month[:2]}).status_code == 200
    r = post(client, SYNC, tokens["system"], {"isUpdating": "False", "data": month[1:]})
    assert r.status_code == 409
    assert r.get_json()["error_code"] == "04" and month[1]["MaHoSo"] in r.get_json()["message"]
    assert registry_store.get_dossier(month[2]["MaHoSo"]) is None  # all or nothing


@pytest.mark.parametrize("who, status", [("editor", 403), ("viewer", 403), (None, 401), ("admin", 200)])
def test_only_systems_and_admins_may_sync(client, tokens, who, status):
    headers = bearer(tokens[who]) if who else {}
    r = client.post(SYNC, json={"isUpdating": "True", "data": month_of_dossiers(1)}, headers=headers)
    assert r.status_code == status


def test_a_system_is_scoped_to_its_agencies(client, tokens, registry_store):
    d = {**month_of_dossiers(1)[0], "MaTTHC": "2.000001"}
    r = post(client, SYNC, tokens["system"], {"isUpdating": "False", "data": [d]})
    assert r.status_code == 403 and "2.000001" in r.get_json()["message"]
    assert registry_store.get_dossier(d["MaHoSo"]) is None


@pytest.mark.parametrize("body, field", [
    ({"isUpdating": "Maybe", "data": [{}]}, "isUpdating"),
    ({"isUpdating": "True"}, "data"),
    ({"isUpdating": "True", "data": [{"MaHoSo": "X", "MaTTHC": "1.000001", "TrangThaiHoSo": "11"}]},
     "data.0.TrangThaiHoSo"),
    ({"isUpdating": "True", "data": [{"MaHoSo": "X", "MaTTHC": "1.000001", "TrangThaiHoSo": "2",
                                      "NgayTiepNhan": "2021-07-01"}]}, "data.0.NgayTiepNhan"),
    ({"isUpdating": "True", "data": [{"MaHoSo": "X", "MaTTHC": "1.000001", "TrangThaiHoSo": "10",
                                      "NgayTiepNhan": "20210701080000"}]}, "data.0.NgayKetThucXuLy"),
    ({"isUpdating": "True", "data": [{"MaHoSo": "X", "MaTTHC": "not a code!", "TrangThaiHoSo": "2",
                                      "NgayTiepNhan": "20210701080000"}]}, "data.0.MaTTHC"),
    ({"isUpdating": "True", "data": [{"MaHoSo": "X", "MaTTHC": "1.000001", "TrangThaiHoSo": "2",
                                      "NgayTiepNhan": "20210231080000"}]}, "data.0.NgayTiepNhan"),
])
def test_bad_input_names_the_field_and_writes_nothing(client, tokens, registry_store, body, field):
    r = post(client, SYNC, tokens["system"], body)
    assert r.status_code == 422
    out = r.get_json()
    assert out["error_code"] == "02" and field in out["errors"], out
    assert registry_store.get_dossier("X") is None


@pytest.mark.parametrize("body", ["[]", "not json", '{"data": "x"}'])
def test_malformed_bodies_never_500(client, tokens, body):
    r = client.post(SYNC, data=body, content_type="application/json", headers=bearer(tokens["system"]))
    assert r.status_code in (400, 422)
    r = client.post(RATINGS, data=body, content_type="application/json", headers=bearer(tokens["system"]))
    assert r.status_code in (400, 422)


def test_periods_and_their_errors(client, tokens):
    post(client, SYNC, tokens["system"], {"isUpdating": "False", "data": month_of_dossiers(8)})
    for period, received in (("2021", 8), ("2021-Q3", 8), ("2021-Q2", 0), ("2021-07", 8), ("2021-08", 0)):
        report = client.get(f"/api/v1/dossiers/coverage?period={period}").get_json()
        assert report["dossiers"]["received"]["total"] == received, period
    report = client.get("/api/v1/dossiers/coverage?from=2021-07-01&to=2021-07-02").get_json()
    assert report["dossiers"]["received"]["total"] == 2
    assert client.get("/api/v1/dossiers/coverage").get_json()["period"]["label"] == "2021"  # latest year
    for bad in ("period=2021-13", "period=21", "from=2021-07-01", "from=2021-07-02&to=2021-07-01",
                "period=2021&from=2021-01-01&to=2021-02-01"):
        r = client.get(f"/api/v1/dossiers/coverage?{bad}")
        assert r.status_code == 422, bad
    csv = client.get("/api/v1/dossiers/coverage?period=2021&format=csv&group_by=procedure")
    assert csv.mimetype == "text/csv" and "dossier_on_time_rate" in csv.get_data(as_text=True)
