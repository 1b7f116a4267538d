"""Contract v2: the single-page-app style, upstreams on their own ports, sessions that die
after a few calls, faults that hit only a request's first attempt."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.mock_portal.helpers import UNIT

from .test_catalog import DETAIL, walk

REPO = Path(__file__).resolve().parents[2]


def _detail(portal, code):
    item = walk(portal, 10, q=code)[0]
    return portal.post(DETAIL, json={"id": item["id"]}).json()


@pytest.mark.parametrize("path", ["/dvcqg/dich-vu-cong-truc-tuyen/1.000001/nop-ho-so",
                                  "/dvcqg/dich-vu-cong-truc-tuyen/2.000004/nop-ho-so",
                                  "/dvcqg/dich-vu-cong-truc-tuyen/9.999999", "/dvcqg/"])
def test_spa_serves_one_app_shell_for_every_page_path(start_portal, path):
    portal = start_portal(STYLE="spa")
    resp = portal.get(path)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    assert '<div id="root"></div>' in resp.text
    assert not re.search(r"\d\.\d{6}", resp.text)  # the shell names no procedure
    script = re.search(r'<script src="([^"]+)"', resp.text).group(1)
    js = portal.get(script)
    assert js.status_code == 200 and "get-formality-by-citizen" in js.text


@pytest.mark.parametrize("code, state, online", [
    ("1.000001", "ACTIVE", True),      # integrated, works
    ("2.000005", "INACTIVE", True),    # legacy 410 → inactive
    ("2.000006", "ACTIVE", False),     # legacy wrong page → no ONLINE method
])
def test_world_decides_how_a_spa_detail_is_broken(start_portal, code, state, online):
    portal = start_portal(STYLE="spa")
    body = _detail(portal, code)
    assert body["code"] == "OK"
    methods = [m["submissionMethod"] for m in body["data"]["executionMethods"]]
    assert body["data"]["state"] == state and ("ONLINE" in methods) is online


def test_a_missing_detail_and_world_overrides(start_portal):
    from tests.mock_portal.helpers import SMALL_WORLD
    world = {**SMALL_WORLD, "spa_details": {"1.000001": "abolished", "1.000002": "missing"}}
    portal = start_portal(world=world, STYLE="spa")
    assert _detail(portal, "2.000004")["code"] == "NOT_FOUND"  # legacy 404 → missing
    assert _detail(portal, "1.000002")["code"] == "NOT_FOUND"
    assert _detail(portal, "1.000001")["data"]["state"] == "ABOLISHED"


def test_session_dies_after_max_calls(start_portal):
    portal = start_portal(SESSION_MAX_CALLS=2)
    session = portal.session()
    body = {"session": session, "madonvi": UNIT, "service": "LayDVC"}
    codes = [portal.post("/adapter/share", json=body).json()["error_code"] for _ in range(3)]
    assert codes == ["00", "00", "03"]


def test_first_attempt_faults_let_the_retry_through(start_portal):
    rules = [{"name": "first", "kind": "http_error", "status": 503, "rate": 1.0,
              "first_attempt": True}]
    portal = start_portal(faults=rules)
    body = {"limit": 5, "lastId": "", "q": "1.000001"}
    list_path = "/dvcqg/api/v1/submitting/formality/list-all-public-formality-by-citizen"
    assert portal.post(list_path, json=body).status_code == 503
    assert portal.post(list_path, json=body).status_code == 200
    assert portal.post(list_path, json={**body, "q": "1.000002"}).status_code == 503
    # INIT retries carry a fresh reference: still the same request
    init = {"LoaiBanTin": "INIT", "MaThamChieu": "R1", "ThongTinBienLai": {"MaHoSo": "R1"}}
    assert portal.post("/payment/init", json=init).status_code == 503
    again = {**init, "MaThamChieu": "R2", "ThongTinBienLai": {"MaHoSo": "R2"}}
    assert portal.post("/payment/init", json=again).status_code == 200


def test_split_serves_each_upstream_on_its_own_port():
    proc = subprocess.Popen([sys.executable, "-m", "mock_portal", "--port", "0", "--split",
                             "--world", "hanoi-2021"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        urls: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "upstream" in line:
                _, _, name, _, url = line.split()
                urls[name] = url
            if "listening on" in line:
                break
        assert set(urls) == {"dvcqg", "adapter", "payment", "lgsp", "paygov"}
        assert len({u.split("/")[2] for u in urls.values()}) == 5  # five hosts
        session = requests.post(urls["adapter"] + "/auth", timeout=10,
                                json={"username": "hanoi", "password": "hanoi-secret"}).json()
        assert session["error_code"] == "00"
        # The adapter's host serves the adapter only.
        assert requests.post(urls["adapter"].replace("/adapter", "/dvcqg/x"), timeout=10
                             ).status_code == 404
        token = requests.post(urls["lgsp"] + "/token", timeout=10, data={
            "grant_type": "client_credentials", "client_id": "tthc",
            "client_secret": "lgsp-secret"}).json()
        assert token["access_token"]  # one state behind every port
    finally:
        proc.terminate()
        proc.wait(10)
