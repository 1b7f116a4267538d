"""Client calls the probes do not use: catalogue list/detail/page, adapter services."""

from __future__ import annotations

import httpx

from connectors import AdapterClient, CatalogClient, Status
from tests.connectors import fakeportal as fp
from tests.connectors.conftest import fast_config, run

DOSSIER = {
    "MaHoSo": "000.00.00.H26-261122-0001",
    "MaTTHC": "1.000771",
    "TenTTHC": "Đăng ký khai sinh",
    "NgayTiepNhan": "20261122100000",
    "NgayHenTra": "20261125170000",
    "TrangThaiHoSo": "2",
    "KenhThucHien": "2",
    "DuocThanhToanTrucTuyen": "1",
}


def call(config, make, use):
    async def main():
        async with httpx.AsyncClient() as client:
            return await use(make(client, config))

    return run(main())


def test_catalogue_walk_by_cursor_returns_every_item_once(portal):
    config = fast_config(portal.base_url)
    codes = {f"1.0003{i:02d}" for i in range(9)}
    for code in codes:
        portal.add(code)

    async def walk(catalog):
        seen, cursor = [], ""
        for _ in range(20):
            page = await catalog.list(last_id=cursor, limit=4)
            assert page.ok
            seen += [item["code"] for item in page.value.items]
            cursor = page.value.last_id
            if not cursor:
                return seen
        raise AssertionError("cursor never ended")

    seen = call(config, CatalogClient, walk)
    assert sorted(seen) == sorted(codes)


def test_detail_and_refused_detail(portal, config):
    proc = portal.add("1.000771", "Đăng ký khai sinh")

    async def use(catalog):
        return await catalog.detail(proc.id), await catalog.detail("no-such-id")

    found, missing = call(config, CatalogClient, use)
    assert found.ok and found.value["code"] == "1.000771"
    assert missing.status is Status.REFUSED and missing.error_code == "NOT_FOUND"


def test_procedure_page(portal, config):
    portal.add("1.000771", "Đăng ký khai sinh")

    async def use(catalog):
        return await catalog.procedure_page("1.000771"), await catalog.procedure_page("9.999999")

    page, unknown = call(config, CatalogClient, use)
    assert page.ok and "Đăng ký khai sinh" in page.value
    assert unknown.status is Status.REFUSED and unknown.error_code == "404"
    assert len(unknown.calls) == 1


def test_lay_thu_tuc(portal, config):
    portal.add("1.000771", "Đăng ký khai sinh")

    async def use(adapter):
        return await adapter.lay_thu_tuc("1.000771"), await adapter.lay_thu_tuc("9.999999")

    found, missing = call(config, AdapterClient, use)
    assert found.ok and found.value[0]["TENTTHC"] == "Đăng ký khai sinh"
    assert missing.status is Status.REFUSED and missing.error_code == "01"
    assert [c.service for c in found.calls] == ["auth", "LayThuTuc"]
    assert [c.service for c in missing.calls] == ["LayThuTuc"]  # the session is reused


def test_dossier_sync_and_lookup(portal, config):
    async def use(adapter):
        first = await adapter.dong_bo_ho_so_mc([DOSSIER])
        again = await adapter.dong_bo_ho_so_mc([DOSSIER])
        update = await adapter.dong_bo_ho_so_mc(
            [{**DOSSIER, "TrangThaiHoSo": "9"}], is_updating=True
        )
        found = await adapter.tra_cuu_ho_so(DOSSIER["MaHoSo"])
        return first, again, update, found

    first, again, update, found = call(config, AdapterClient, use)
    assert first.ok and update.ok
    assert again.status is Status.REFUSED and again.error_code == "04"
    assert found.value == [{**DOSSIER, "TrangThaiHoSo": "9"}]
    sent = portal.requests_to("/adapter/integration")
    assert [r["json"]["isUpdating"] for r in sent[:3]] == ["False", "False", "True"]
    assert all(r["json"]["madonvi"] == fp.UNIT for r in sent)
