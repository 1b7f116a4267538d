"""Text normalisation, diacritic folding, and the declarative settings table."""
from __future__ import annotations

import re
import unicodedata

import pytest

from registry import settings
from registry.text import clean, fold, search_tokens

from .conftest import REPO


@pytest.mark.parametrize("raw, folded", [
    ("Đăng ký hộ kinh doanh", "dang ky ho kinh doanh"),
    ("đất đai", "dat dai"),
    ("  Cấp   GIẤY phép\nxây dựng ", "cap giay phep xay dung"),
    ("Ủy ban nhân dân cấp xã", "uy ban nhan dan cap xa"),
    (unicodedata.normalize("NFD", "Hộ tịch"), "ho tich"),
])
def test_fold(raw, folded):
    assert fold(raw) == folded


def test_clean_is_nfc_trimmed_and_collapsed():
    decomposed = unicodedata.normalize("NFD", "  Đăng   ký\tkhai  sinh ")
    out = clean(decomposed)
    assert out == "Đăng ký khai sinh"
    assert unicodedata.is_normalized("NFC", out)


def test_search_tokens_split_codes():
    assert search_tokens("1.001193 Khai-sinh") == ["1", "001193", "khai", "sinh"]


def test_defaults_without_environment():
    cfg = settings.load({})
    assert cfg["DATABASE"] == "instance/registry.db"
    assert cfg["ROUNDING"] == "truncate"


def test_environment_values_are_typed():
    cfg = settings.load({"TTHC_PROBE_CONCURRENCY": "8", "TTHC_STALENESS_DAYS": "1.5"})
    assert cfg["PROBE_CONCURRENCY"] == 8
    assert cfg["STALENESS_DAYS"] == 1.5


@pytest.mark.parametrize("env, name", [
    ({"TTHC_PROBE_CONCURRENCY": "many"}, "TTHC_PROBE_CONCURRENCY"),
    ({"TTHC_ROUNDING": "bankers"}, "TTHC_ROUNDING"),
    ({"TTHC_PROBE_CONCURRENCY": "0"}, "TTHC_PROBE_CONCURRENCY"),
])
def test_bad_setting_names_the_variable(env, name):
    with pytest.raises(settings.SettingsError, match=name):
        settings.load(env)


def test_every_setting_is_documented_in_the_readme():
    readme = (REPO / "README.md").read_text("utf-8")
    documented = set(re.findall(r"`(TTHC_[A-Z0-9_]+)`", readme))
    declared = {s.env for s in settings.SETTINGS}
    assert declared - documented == set(), "settings missing from README"
    assert documented - declared == set(), "README documents settings that do not exist"
