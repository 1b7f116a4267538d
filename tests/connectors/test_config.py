"""PortalConfig: defaults of the contract, URL layout, validation, secrets kept out of repr."""

from __future__ import annotations

import pytest

from connectors import ConfigurationError, PortalConfig


def test_defaults_match_the_shared_credentials():
    cfg = PortalConfig()
    assert (cfg.unit_code, cfg.adapter_username, cfg.adapter_password) == (
        "000.00.00.H26",
        "hanoi",
        "hanoi-secret",
    )
    assert (cfg.payment_partner_code, cfg.payment_secret) == ("HNI", "dvcqg-secret")
    assert (cfg.paygov_partner_code, cfg.paygov_access_key, cfg.paygov_secret_key) == (
        "HNI",
        "paygov-access",
        "paygov-secret",
    )
    assert (cfg.lgsp_client_id, cfg.lgsp_client_secret) == ("tthc", "lgsp-secret")


@pytest.mark.parametrize(
    "upstream, path, expected",
    [
        (
            "dvcqg",
            "/dich-vu-cong-truc-tuyen/1.000771",
            "http://portal:8081/dvcqg/dich-vu-cong-truc-tuyen/1.000771",
        ),
        ("adapter", "/auth", "http://portal:8081/adapter/auth"),
        ("payment", "/init", "http://portal:8081/payment/init"),
        ("lgsp", "token", "http://portal:8081/lgsp/token"),
        ("paygov", "/create", "http://portal:8081/paygov/create"),
    ],
)
def test_one_base_url_serves_every_upstream(upstream, path, expected):
    assert PortalConfig(base_url="http://portal:8081/").url(upstream, path) == expected


def test_an_override_replaces_base_and_prefix_of_one_upstream_only():
    cfg = PortalConfig(base_url="http://portal:8081", payment_url="https://pay.example.vn/api/v1/")
    assert cfg.url("payment", "/init") == "https://pay.example.vn/api/v1/init"
    assert cfg.url("adapter", "/auth") == "http://portal:8081/adapter/auth"


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"base_url": "portal:8081"}, "base_url"),
        ({"adapter_url": "ftp://x"}, "adapter_url"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"retries": -1}, "retries"),
        ({"retries": 1.5}, "retries"),
        ({"backoff_max": -1}, "backoff_max"),
        ({"unit_code": " "}, "unit_code"),
        ({"payment_secret": ""}, "payment_secret"),
        ({"probe_amount": 0}, "probe_amount"),
        ({"paygov_not_configured_codes": "02"}, "paygov_not_configured_codes"),
    ],
)
def test_invalid_values_are_refused(changes, fragment):
    with pytest.raises(ConfigurationError) as caught:
        PortalConfig(**changes)
    assert any(fragment in problem for problem in caught.value.problems)
    assert isinstance(caught.value, ValueError)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigurationError) as caught:
        PortalConfig(base_url="nope", timeout=-1, retries=-2)
    assert len(caught.value.problems) == 3


def test_secrets_stay_out_of_repr():
    text = repr(
        PortalConfig(
            adapter_password="pw-XYZ",
            payment_secret="s-XYZ",
            paygov_secret_key="k-XYZ",
            paygov_access_key="a-XYZ",
            lgsp_client_secret="l-XYZ",
        )
    )
    assert "XYZ" not in text
    assert "hanoi" in text


def test_replace_validates_again():
    cfg = PortalConfig()
    assert cfg.replace(retries=0).attempts == 1
    with pytest.raises(ConfigurationError):
        cfg.replace(timeout=-3)


def test_unknown_upstream_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        PortalConfig().url("sms", "/send")
