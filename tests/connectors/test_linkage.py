"""Linkage probes: every verdict of contract section 5, level mismatch, evidence, re-login."""

from __future__ import annotations

import json

import pytest

from connectors import UsageError
from connectors.catalog import page_names_code
from tests.connectors import fakeportal as fp
from tests.connectors.conftest import fast_config, with_prober

CODE = "1.000771"
DEEP = f"/dvcqg/dich-vu-cong-truc-tuyen/{CODE}/nop-ho-so"


def linkage(config, code=CODE, level=None):
    return with_prober(config, lambda p: p.linkage(code, level))


def test_integrated(portal, config):
    portal.add(CODE, "Đăng ký khai sinh", units=[(fp.UNIT, "4")])
    verdict = linkage(config, level=4)
    assert verdict.verdict == "integrated" and verdict.kind == "linkage"
    assert (verdict.portal_level, verdict.declared_level, verdict.level_mismatch) == (4, 4, False)
    assert verdict.details["deep_link"] == f"{portal.base_url}{DEEP}"
    assert verdict.details["catalog_name"] == "Đăng ký khai sinh"
    assert [c.service for c in verdict.calls] == ["catalog.list", "auth", "LayDVC", "deep_link"]


@pytest.mark.parametrize(
    "declared, mucdo, mismatch",
    [(3, "4", True), (4, "3", True), (2, "2", False), (None, "3", None)],
)
def test_level_mismatch_is_recorded_beside_the_verdict(portal, config, declared, mucdo, mismatch):
    portal.add(CODE, units=[(fp.UNIT, mucdo)])
    verdict = linkage(config, level=declared)
    assert verdict.verdict == "integrated"
    assert (verdict.portal_level, verdict.level_mismatch) == (int(mucdo), mismatch)


def test_not_integrated_when_only_other_units_have_the_service(portal, config):
    portal.add(CODE, units=[("000.00.00.H29", "4"), ("000.00.00.G01", "3")])
    verdict = linkage(config, level=4)
    assert verdict.verdict == "not_integrated"
    assert verdict.portal_level is None and verdict.level_mismatch is None
    assert "deep_link" not in [c.service for c in verdict.calls]


def test_not_integrated_when_no_online_service_exists(portal, config):
    portal.add(CODE)
    assert linkage(config).verdict == "not_integrated"


def test_not_integrated_when_laydvc_answers_not_found(portal, config):
    portal.add(CODE, units=[(fp.UNIT, "4")])
    portal.script(
        "/adapter/share", lambda r: fp.json_response({"error_code": "01", "message": "Không có"})
    )
    assert linkage(config).verdict == "not_integrated"


def test_not_listed(portal, config):
    portal.add("1.000772", units=[(fp.UNIT, "4")])
    verdict = linkage(config)
    assert verdict.verdict == "not_listed"
    assert [c.service for c in verdict.calls] == ["catalog.list"]


def test_a_longer_code_containing_ours_is_not_a_match(portal, config):
    # q matches substrings: "1.000771" finds "1.000771.H26" and "11.000771", neither is ours.
    portal.add("1.000771.H26", units=[(fp.UNIT, "4")])
    portal.add("11.000771", units=[(fp.UNIT, "4")])
    assert linkage(config).verdict == "not_listed"


def test_search_follows_the_cursor(portal):
    config = fast_config(portal.base_url, catalog_page_size=2)
    for i in range(7):
        portal.add(f"{CODE}.{i:02d}", f"Biến thể {i} của {CODE}")
    portal.add(CODE, units=[(fp.UNIT, "3")])
    verdict = linkage(config)
    assert verdict.verdict == "integrated"
    pages = portal.requests_to(fp.LIST)
    assert 1 <= len(pages) <= 4 and all(p["json"]["q"] == CODE for p in pages)
    cursors = [p["json"]["lastId"] for p in pages]
    assert cursors[0] == "" and len(set(cursors)) == len(cursors)


@pytest.mark.parametrize("link, deep_calls", [("404", 1), ("410", 1), ("maintenance", 3)])
def test_link_broken(portal, config, link, deep_calls):
    # 404/410 is definitive (not retried); a page without the code is retried, and broken
    # only when it never shows the code.
    portal.add(CODE, units=[(fp.UNIT, "4")], link=link)
    verdict = linkage(config, level=3)
    assert verdict.verdict == "link_broken"
    assert len([c for c in verdict.calls if c.service == "deep_link"]) == deep_calls
    assert verdict.error_code == ("code_absent" if link == "maintenance" else link)
    assert (verdict.portal_level, verdict.level_mismatch) == (4, True)


def test_a_maintenance_page_then_the_real_page_is_integrated(portal, config):
    portal.add(CODE, units=[(fp.UNIT, "4")])
    portal.script(DEEP, fp.maintenance, fp.maintenance)
    verdict = linkage(config)
    assert verdict.verdict == "integrated"
    outcomes = [c.outcome for c in verdict.calls if c.service == "deep_link"]
    assert outcomes == ["code_absent", "code_absent", "ok"]


@pytest.mark.parametrize("fault", [fp.status(503), fp.status(429, "0"), fp.status(500)])
def test_deep_link_failing_only_transiently_is_unknown_not_broken(portal, config, fault):
    portal.add(CODE, units=[(fp.UNIT, "4")])
    portal.script(DEEP, *[fault] * 5)
    verdict = linkage(config, level=4)
    assert verdict.verdict == "unknown" and verdict.cause == "unavailable" and verdict.unavailable
    assert verdict.portal_level == 4  # what the adapter said is kept as evidence


def test_transient_failures_then_404_is_broken(portal, config):
    portal.add(CODE, units=[(fp.UNIT, "4")], link="404")
    portal.script(DEEP, fp.status(502), fp.status(429, "0"))
    verdict = linkage(config)
    assert verdict.verdict == "link_broken" and verdict.error_code == "404"
    outcomes = [c.outcome for c in verdict.calls if c.service == "deep_link"]
    assert outcomes == ["http_5xx", "http_429", "not_found"]


@pytest.mark.parametrize(
    "script, retries, expected",
    [
        ([fp.maintenance, fp.status(503), fp.status(503)], 2, "unknown"),  # one page is not enough
        ([fp.maintenance, fp.status(503), fp.maintenance], 2, "link_broken"),
        ([fp.status(503), fp.maintenance, fp.maintenance], 2, "link_broken"),
        ([fp.maintenance], 0, "link_broken"),  # a single allowed attempt decides alone
    ],
)
def test_pages_without_the_code_among_transient_failures(portal, script, retries, expected):
    config = fast_config(portal.base_url, retries=retries)
    portal.add(CODE, units=[(fp.UNIT, "4")])
    portal.script(DEEP, *script, *[fp.status(503)] * 3)
    assert linkage(config).verdict == expected


def test_deep_link_timing_out_is_unknown(portal):
    config = fast_config(portal.base_url, timeout=0.2, retries=1)
    portal.add(CODE, units=[(fp.UNIT, "4")])
    portal.script(DEEP, fp.slow(0.8), fp.slow(0.8))
    verdict = linkage(config)
    assert verdict.verdict == "unknown" and verdict.cause == "unavailable"
    assert [c.outcome for c in verdict.calls if c.service == "deep_link"] == ["timeout", "timeout"]


@pytest.mark.parametrize("fault", [fp.maintenance, fp.garbage, fp.status(500), fp.status(429, "0")])
def test_catalogue_failing_persistently_is_unknown(portal, config, fault):
    portal.add(CODE, units=[(fp.UNIT, "4")])
    portal.script(fp.LIST, *[fault] * 5)
    verdict = linkage(config)
    assert verdict.verdict == "unknown" and verdict.cause == "unavailable"
    assert len(verdict.calls) == config.attempts


def test_html_200_maintenance_on_the_adapter_is_retried_not_believed(portal, config):
    portal.add(CODE, units=[(fp.UNIT, "4")])
    portal.script("/adapter/share", fp.maintenance)
    verdict = linkage(config)
    assert verdict.verdict == "integrated"
    assert [c.outcome for c in verdict.calls if c.service == "LayDVC"] == ["malformed", "ok"]


def test_session_expiry_03_logs_in_again_and_retries_once(portal, config):
    portal.add(CODE, units=[(fp.UNIT, "4")])
    portal.add("1.000772", units=[(fp.UNIT, "3")])

    async def use(prober):
        first = await prober.linkage(CODE)
        portal.expire_sessions()
        second = await prober.linkage("1.000772")
        return first, second, prober.adapter.logins

    first, second, logins = with_prober(config, use)
    assert (first.verdict, second.verdict, logins) == ("integrated", "integrated", 2)
    codes = [(c.service, c.error_code) for c in second.calls if c.upstream == "adapter"]
    assert codes == [("LayDVC", "03"), ("auth", "00"), ("LayDVC", "00")]
    sessions = [r["json"]["session"] for r in portal.requests_to("/adapter/share")]
    assert sessions[0] == sessions[1] != sessions[2]


def test_03_on_fresh_sessions_is_retried_within_the_budget_then_unknown(portal, config):
    # A "03" after a re-login is transient: retried with a fresh session, but a session that
    # never serves a single call is the portal refusing us, so the retry budget bounds it.
    portal.add(CODE, units=[(fp.UNIT, "4")])
    always_expired = lambda r: fp.json_response({"error_code": "03", "message": "hết hạn"})  # noqa: E731
    portal.script("/adapter/share", *[always_expired] * config.attempts)
    verdict = linkage(config)
    assert (
        verdict.verdict == "unknown" and verdict.cause == "refused" and verdict.error_code == "03"
    )
    assert len(portal.requests_to("/adapter/share")) == config.attempts
    assert len(portal.requests_to("/adapter/auth")) == config.attempts


def test_03_after_a_relogin_is_transient_and_retried(portal, config):
    portal.add(CODE, units=[(fp.UNIT, "4")])
    always_expired = lambda r: fp.json_response({"error_code": "03", "message": "hết hạn"})  # noqa: E731
    portal.script("/adapter/share", *[always_expired] * (config.attempts - 1))
    verdict = linkage(config)
    assert verdict.verdict == "integrated"
    assert [c.error_code for c in verdict.calls if c.service == "LayDVC"] == (
        ["03"] * (config.attempts - 1) + ["00"]
    )


@pytest.mark.parametrize("success", ["00", "0", 0])
def test_every_success_code_variant_is_success(portal, config, success):
    portal.add(CODE, units=[(fp.UNIT, "4")])
    portal.success_code = success
    verdict = linkage(config, level=4)
    assert verdict.verdict == "integrated", verdict.reason


def test_extra_fields_are_ignored_and_a_missing_required_field_is_named(portal, config):
    portal.add(CODE, units=[(fp.UNIT, "4")])
    extra = {"error_code": "00", "message": "", "extra": {"x": 1}, "result": [
        {"MATTHC": CODE, "MADVC": CODE, "TENDVC": "x", "PHIENBAN": "2",
         "APDUNGDVC": [{"MACOQUANTHUCHIEN": fp.UNIT, "MUCDO": "4", "GHICHU": "new"}]}]}
    portal.script("/adapter/share", lambda r: fp.json_response(extra))
    assert linkage(config, level=4).verdict == "integrated"
    portal.script("/adapter/share", lambda r: fp.json_response({"error_code": "00", "message": ""}))
    verdict = linkage(config, level=4)
    assert verdict.verdict == "unknown" and verdict.cause == "unexpected"
    assert "result" in verdict.reason
    no_level = {"error_code": "00", "result": [{"MATTHC": CODE, "APDUNGDVC": [{"MUCDO": "4"}]}]}
    portal.script("/adapter/share", lambda r: fp.json_response(no_level))
    verdict = linkage(config, level=4)
    assert verdict.verdict == "unknown" and "MACOQUANTHUCHIEN" in verdict.reason


def test_session_is_cached_across_probes(portal, config):
    for i in range(3):
        portal.add(f"1.00077{i}", units=[(fp.UNIT, "4")])

    async def use(prober):
        return [await prober.linkage(f"1.00077{i}") for i in range(3)], prober.adapter.logins

    verdicts, logins = with_prober(config, use)
    assert [v.verdict for v in verdicts] == ["integrated"] * 3 and logins == 1


def test_wrong_adapter_password_is_unknown_auth_failed(portal):
    config = fast_config(portal.base_url, adapter_password="wrong")
    portal.add(CODE, units=[(fp.UNIT, "4")])
    verdict = linkage(config)
    assert (
        verdict.verdict == "unknown" and verdict.cause == "auth_failed" and not verdict.unavailable
    )
    assert len(portal.requests_to("/adapter/auth")) == 1  # a business refusal is never retried


def test_madonvi_is_our_unit_code(portal):
    config = fast_config(portal.base_url, unit_code="000.00.00.H29")
    portal.add(CODE, units=[("000.00.00.H29", "4")])
    verdict = linkage(config)
    assert verdict.verdict == "unknown" and verdict.error_code == "02"  # the fake knows H26 only
    assert portal.requests_to("/adapter/share")[0]["json"]["madonvi"] == "000.00.00.H29"


def test_portal_down_is_unknown_with_evidence_not_an_exception(dead_url):
    verdict = linkage(fast_config(dead_url))
    assert verdict.verdict == "unknown" and verdict.unavailable
    assert len(verdict.calls) == 3 and {c.outcome for c in verdict.calls} == {"connection_error"}
    json.dumps(verdict.to_dict())


def test_to_dict_is_json_ready_and_complete(portal, config):
    portal.add(CODE, units=[(fp.UNIT, "3")])
    data = json.loads(json.dumps(linkage(config, level=4).to_dict(), ensure_ascii=False))
    assert data["verdict"] == "integrated" and data["level_mismatch"] is True
    assert data["checked_at"].endswith("+07:00") and data["elapsed_ms"] > 0
    call = data["calls"][0]
    assert {"method", "url", "status", "elapsed_ms", "error_code", "message", "attempt"} <= set(
        call
    )


@pytest.mark.parametrize(
    "code", ["", "1 000771", "../admin", "1.000771/x", None, 1000771, "a" * 80]
)
def test_invalid_codes_are_usage_errors(config, code):
    with pytest.raises(UsageError):
        with_prober(config, lambda p: p.linkage(code))


@pytest.mark.parametrize("level", [0, 5, "4", True, 3.0])
def test_invalid_levels_are_usage_errors(config, level):
    with pytest.raises(UsageError):
        with_prober(config, lambda p: p.linkage(CODE, level))


@pytest.mark.parametrize(
    "html, expected",
    [
        ("<p>Mã thủ tục: 1.000771</p>", True),
        ("<p>Thủ tục 1.000771.</p>", True),
        ("<p>Mã: 1.000771.H26</p>", False),
        ("<p>Mã: 11.000771</p>", False),
        ("<p>Mã: 1.0007712</p>", False),
        ('<a href="/login?next=/dich-vu-cong-truc-tuyen/1.000771">Đăng nhập</a>', False),
        ("<script>var code='1.000771'</script><p>Bảo trì</p>", False),
    ],
)
def test_page_names_code(html, expected):
    assert page_names_code(html, CODE) is expected
