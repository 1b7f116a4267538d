"""The registry's exception tree and its one mapping per shell (API, dashboard, CLI)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from registry import errors
from registry.cli import main
from registry.store import DuplicateCode, NotFound, StoreBusy, VersionConflict


@pytest.mark.parametrize("cls,status", [(NotFound, 404), (DuplicateCode, 409), (VersionConflict, 412),
                                        (StoreBusy, 503)])
def test_store_errors_are_branches_of_the_tree_with_their_status(cls, status):
    assert issubclass(cls, errors.RegistryError) and cls.status == status


def test_every_registry_error_class_has_a_vietnamese_title_and_a_slug():
    def walk(cls: type) -> list[type]:
        return [cls] + [c for sub in cls.__subclasses__() for c in walk(sub)]

    for cls in walk(errors.RegistryError):
        assert cls.title_vi and cls.slug and 400 <= cls.status <= 599, cls


def test_the_api_answers_a_registry_error_as_a_problem_with_its_status(client, monkeypatch):
    from registry.store import Store

    def refuse(self, *a, **k):
        raise errors.Forbidden("not one of your agencies")

    monkeypatch.setattr(Store, "get_procedure", refuse)
    resp = client.get("/api/v1/procedures/1.000005")
    assert resp.status_code == 403 and resp.mimetype == "application/problem+json"
    assert resp.json["type"] == "urn:tthc:problem:forbidden"
    assert resp.json["detail"] == "not one of your agencies"


def test_the_dashboard_answers_a_registry_error_with_its_vietnamese_page(client, monkeypatch):
    from registry.store import Store

    def refuse(self, *a, **k):
        raise errors.Forbidden("not one of your agencies")

    monkeypatch.setattr(Store, "get_procedure", refuse)
    resp = client.get("/procedures/1.000005")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 403 and "Không có quyền" in text
    assert "not one of your agencies" not in text


def test_the_cli_prints_a_registry_error_as_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TTHC_DATABASE", str(tmp_path / "r.db"))
    result = CliRunner().invoke(main, ["fixtures", "load", "no-such-fixture"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "Traceback" not in result.output
