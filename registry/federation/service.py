"""Federation use cases, one function each, called by the CLI, the API and the dashboard.

A unit is registered with its code, base URL and name; `pull` fetches each unit's
`/api/v1/coverage` on both bases (conditional GET), validates every answer against the
published JSON Schema of the method it names, and keeps dated snapshots; `federated_coverage`
sums the latest good snapshots (see `summary.py`).
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from ..clock import VN_TZ
from ..probing.federation_pull import BASES, PullAnswer, PullRequest, pull_reports_sync
from ..report_schema import validation_errors
from ..reporting import end_of_day
from ..store import DuplicateCode, NotFound, Store
from ..errors import InvalidInput
from ..text import clean
from . import summary

UNIT_CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"


class FederationError(InvalidInput):
    """Bad input to a federation use case: `errors` maps each field to its messages."""

    slug = "invalid-federation-input"

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = dict(errors)


class UnitIn(Schema):
    """A unit to federate."""

    code = fields.String(required=True, validate=validate.Regexp(
        UNIT_CODE, error="must be a unit code: letters, digits, '.', '-' or '_' (at most 40)"))
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False,
                     error_messages={"invalid": "must be an absolute http(s) URL of a tthc server"})
    name = fields.String(load_default="", validate=validate.Length(max=200))


def add_unit(store: Store, *, code: str, url: str, name: str = "", actor: str, source: str) -> dict[str, Any]:
    """Register a unit to pull coverage from."""
    try:
        data = UnitIn().load({"code": code, "url": url, "name": name})
    except ValidationError as exc:
        raise FederationError(exc.messages) from exc  # type: ignore[arg-type]
    try:
        return store.add_federation_unit(data["code"], data["url"].rstrip("/"), clean(data["name"]),
                                         actor=actor, source=source)
    except DuplicateCode:
        raise FederationError({"code": [f"unit {data['code']} is already federated"]}) from None


def _known(store: Store, code: str) -> None:
    try:
        store.get_federation_unit(code)
    except NotFound:
        raise NotFound(f"unit {code} is not federated") from None


def remove_unit(store: Store, code: str, *, actor: str, source: str) -> None:
    """Stop pulling from a unit; its snapshots stay as history. NotFound when unknown."""
    _known(store, code)
    store.remove_federation_unit(code, actor=actor, source=source)


def list_units(store: Store) -> list[dict[str, Any]]:
    """Every unit with, per basis, its last pull and its last snapshot's time."""
    out = []
    for unit in store.list_federation_units():
        row = dict(unit)
        for basis in BASES:
            pull = store.last_pull(unit["code"], basis)
            snap = store.latest_snapshot(unit["code"], basis, with_report=False)
            row[basis] = {"last_pull": None if pull is None else {k: pull[k] for k in ("at", "outcome", "reason")},
                          "snapshot_as_of": snap["as_of"] if snap else None,
                          "confirmed_at": snap["confirmed_at"] if snap else None}
        out.append(row)
    return out


def _check(answer: PullAnswer) -> PullAnswer:
    """A `changed` answer must be a valid report of a published method, of the asked basis
    and unit; anything else becomes a failed pull with the reason."""
    if answer.outcome != "changed":
        return answer
    report, req = answer.report, answer.request
    problems = validation_errors(report)
    if not problems and report.get("basis") != req.basis:
        problems = [f"asked for basis {req.basis}, got {report.get('basis')!r}"]
    unit = report.get("unit") if not problems else None
    if unit and unit.get("code") and unit["code"] != req.unit_code:
        problems = [f"the report is of unit {unit['code']}, not {req.unit_code}"]
    if problems:
        answer.outcome, answer.reason, answer.report = "failed", "invalid report: " + "; ".join(problems[:5]), None
    return answer


def pull(store: Store, cfg: Mapping[str, Any], codes: Sequence[str] = (), *,
         bases: Sequence[str] = BASES) -> list[dict[str, Any]]:
    """Pull the coverage of every unit (or those in `codes`) on each basis; record each pull."""
    units = store.list_federation_units()
    if codes:
        unknown = sorted(set(codes) - {u["code"] for u in units})
        if unknown:
            raise FederationError({"codes": [f"not federated: {', '.join(unknown)}"]})
        units = [u for u in units if u["code"] in set(codes)]
    requests = []
    for unit in units:
        for basis in bases:
            last = store.latest_snapshot(unit["code"], basis, with_report=False)
            requests.append(PullRequest(unit["code"], unit["url"], basis, last["etag"] if last else None))
    started = time.perf_counter()
    answers = pull_reports_sync(requests, timeout=cfg["FEDERATION_TIMEOUT"], retries=cfg["FEDERATION_RETRIES"],
                                concurrency=cfg["FEDERATION_CONCURRENCY"])
    results = []
    for answer in map(_check, answers):
        req = answer.request
        if answer.outcome == "not_modified" and store.latest_snapshot(req.unit_code, req.basis,
                                                                      with_report=False) is None:
            answer.outcome, answer.reason = "failed", "304 for a report we do not hold"
        results.append(store.record_pull(
            req.unit_code, req.basis, outcome=answer.outcome, reason=answer.reason,
            http_status=answer.http_status, evidence=answer.evidence, report=answer.report, etag=answer.etag))
    elapsed = time.perf_counter() - started
    for row in results:
        row["elapsed_s"] = round(elapsed, 3)
    return results


def federated_coverage(store: Store, cfg: Mapping[str, Any], *, basis: str = "declared",
                       as_of: date | None = None) -> dict[str, Any]:
    """Indicators summed over the units' latest good snapshots (as they stood at `as_of`)."""
    now = datetime.now(VN_TZ)
    live = as_of is None or end_of_day(as_of) >= now
    moment = now if live else end_of_day(as_of)  # type: ignore[arg-type]
    cutoff = None if live else moment.isoformat()
    units = store.list_federation_units()
    snapshots = {u["code"]: store.latest_snapshot(u["code"], basis, as_of=cutoff) for u in units}
    pulls = {u["code"]: store.last_pull(u["code"], basis) for u in units}
    return summary.federate(units, snapshots, pulls, store.list_targets(), basis=basis, moment=moment, live=live,
                            stale_hours=cfg["FEDERATION_STALE_HOURS"], rounding=cfg["ROUNDING"],
                            unit={"code": cfg["UNIT_CODE"], "name": cfg["UNIT_NAME"]})


def coverage_trend(store: Store, cfg: Mapping[str, Any], *, basis: str = "declared") -> dict[str, list[dict[str, Any]]]:
    """The national sums per indicator at the end of each day a snapshot arrived."""
    return summary.trend(store.list_snapshots(basis), rounding=cfg["ROUNDING"],
                         stale_hours=cfg["FEDERATION_STALE_HOURS"], now=datetime.now(VN_TZ))


__all__ = ["BASES", "FederationError", "NotFound", "add_unit", "coverage_trend", "federated_coverage",
           "list_units", "pull", "remove_unit"]
