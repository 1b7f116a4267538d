"""Where the registry's declarations and the portal's latest probe verdicts disagree (pure).

One row per disagreement: {code, name, agency, kind, declared, observed, checked_at}.
`declared` and `observed` are short strings: a verdict, a channel, or a service level.
Only active procedures with a real verdict count: no verdict yet, or only `unknown`, is not
a disagreement (it is unverified, which the coverage report counts separately).
"""
from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Mapping

from ..spreadsheet import neutralise

COLUMNS = ("code", "name", "agency", "kind", "declared", "observed", "checked_at")

#: Every kind, in report order, with what it means.
KINDS: dict[str, str] = {
    "not_listed": "declared integrated, but the DVCQG catalogue does not list the procedure",
    "not_integrated": "declared integrated, but DVCQG has no online service of it for our unit",
    "level_mismatch": "integrated on DVCQG at another service level (MUCDO) than declared",
    "link_broken": "integrated per the adapter, but the citizen's deep link is broken",
    "undeclared_integrated": "integrated on DVCQG for our unit, but not declared integrated",
    "payment_not_configured": "declared payable online, but the platform has no payment set up",
    "payment_rejected": "declared payable online, but the platform refuses the payment",
    "payment_invalid_signature": "declared payable online, but the platform's answer does not verify",
    "undeclared_payment": "online payment works on the portal, but the procedure declares none",
}
_REFUSALS = {"payment_not_configured": "payment_not_configured", "payment_rejected": "payment_rejected",
             "invalid_signature": "payment_invalid_signature"}


def _row(p: Mapping[str, Any], kind: str, declared: Any, observed: Any, evidence: Mapping[str, Any]
         ) -> dict[str, Any]:
    return {"code": p["code"], "name": p.get("name") or "", "agency": p.get("agency") or "", "kind": kind,
            "declared": "" if declared is None else str(declared),
            "observed": "" if observed is None else str(observed), "checked_at": evidence.get("checked_at")}


def _linkage(p: Mapping[str, Any], ev: Mapping[str, Any]) -> list[dict[str, Any]]:
    verdict = ev.get("verdict")
    declared = bool(p.get("dvcqg_integrated"))
    claim = "integrated" if declared else "not_integrated"
    out = []
    if declared and verdict in ("not_listed", "not_integrated"):
        out.append(_row(p, verdict, claim, verdict, ev))
    if verdict == "link_broken":
        out.append(_row(p, "link_broken", claim, verdict, ev))
    if not declared and verdict == "integrated":
        out.append(_row(p, "undeclared_integrated", claim, verdict, ev))
    portal_level = (ev.get("details") or {}).get("portal_level")
    if verdict in ("integrated", "link_broken") and portal_level is not None \
            and int(portal_level) != int(p["service_level"]):
        # Compared with the level declared now, not at probe time: the report is about today.
        out.append(_row(p, "level_mismatch", p["service_level"], portal_level, ev))
    return out


def _payment(p: Mapping[str, Any], ev: Mapping[str, Any]) -> list[dict[str, Any]]:
    verdict = ev.get("verdict")
    channel = p.get("payment_channel") or "none"
    if channel != "none" and verdict in _REFUSALS:
        return [_row(p, _REFUSALS[verdict], channel, verdict, ev)]
    if channel == "none" and verdict == "payment_ready":
        found = (ev.get("details") or {}).get("channel") or "payment_ready"
        return [_row(p, "undeclared_payment", channel, found, ev)]
    return []


def find_discrepancies(procedures: Iterable[Mapping[str, Any]],
                       verdicts: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Rows for every disagreement, ordered by kind (as in KINDS) then code.

    `verdicts` is {code: {"linkage": {verdict, checked_at, details}, "payment": {...}}}, as the
    store's `latest_verdicts()` returns it.
    """
    rows: list[dict[str, Any]] = []
    for p in procedures:
        if (p.get("status") or "active") != "active":
            continue
        evidence = verdicts.get(p["code"]) or {}
        if evidence.get("linkage"):
            rows.extend(_linkage(p, evidence["linkage"]))
        if evidence.get("payment"):
            rows.extend(_payment(p, evidence["payment"]))
    order = {kind: i for i, kind in enumerate(KINDS)}
    return sorted(rows, key=lambda r: (order[r["kind"]], r["code"]))


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows as CSV (header first, CRLF line ends as RFC 4180 says)."""
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else neutralise(row.get(k)) for k in COLUMNS})
    return buf.getvalue()
