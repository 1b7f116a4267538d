"""The procedure service: every write to a procedure, whoever asks (API, dashboard, importer).

Each use case is load → scope check → version check → write → audit, in that order, with
the scope rule defined once (`scope_refusal`):

* an admin may change any procedure;
* an editor may change a procedure only if EVERY agency it has before the change AND every
  agency it will have after the change is one of the editor's agencies, and it keeps at
  least one agency (so a procedure with no agency - *unassigned* - can only be changed by an
  admin, and an editor can never strip the agencies off a procedure to hand it to anyone);
* anyone else may change nothing.

Every write needs the version the caller read (`expected_version`): a missing version is
refused (`VersionRequired`), never skipped. The shells translate the errors raised here
into their own language (HTTP problems, Vietnamese pages, CLI lines).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from . import errors
from .auth import Principal, can_edit
from .schemas import DEFAULTS, with_defaults
from .store import DuplicateCode, NotFound, Store, VersionConflict
from .text import clean

__all__ = ["DuplicateCode", "NotFound", "OutOfScope", "ProcedureError", "ReasonRequired",
           "VersionConflict", "VersionRequired", "agencies_of", "create", "editability", "may_write",
           "put_changes", "restore", "retire", "scope_refusal", "update"]

MAX_REASON = 1000
UNASSIGNED = "(no agency)"


class ProcedureError(errors.RegistryError):
    """A write the service refuses (the shells map each kind to their own answer)."""


class OutOfScope(ProcedureError, errors.Forbidden):
    """The principal may not write this procedure; `agencies` are the ones that decide it."""

    slug = "outside-scope"

    def __init__(self, message: str, *, principal: Principal | None, agencies: list[str],
                 reason: str) -> None:
        super().__init__(message)
        self.principal = principal
        self.agencies = agencies
        self.reason = reason  # one of the keys of `editability`


class VersionRequired(ProcedureError):
    """The caller did not say which version it read."""

    status = 428
    slug = "precondition-required"
    title_vi = "Thiếu phiên bản"


class ReasonRequired(ProcedureError, errors.InvalidInput):
    """Retiring needs a reason (kept in the audit log)."""


def agencies_of(record: Mapping[str, Any] | None) -> list[str]:
    """Every agency a procedure names, primary first, without blanks or repeats."""
    if record is None:
        return []
    return [a for a in dict.fromkeys([record.get("agency") or "", *(record.get("agencies") or [])]) if a]


@dataclass(frozen=True)
class Refusal:
    """Why a principal may not write a procedure: a reason key and the agencies concerned."""

    reason: str  # "anonymous", "role", "unassigned", "outside", "no_agency_after"
    agencies: list[str]


def scope_refusal(principal: Principal | None, before: Mapping[str, Any] | None,
                  after: Mapping[str, Any] | None) -> Refusal | None:
    """THE scope rule: None when `principal` may turn `before` into `after`, else why not.

    `before` is None for a new procedure; `after` is None when only the current state
    matters (may this principal touch the procedure at all?).
    """
    if principal is None:
        return Refusal("anonymous", [])
    if principal.is_admin:
        return None
    if principal.role != "editor":
        return Refusal("role", [])
    old, new = agencies_of(before), agencies_of(after)
    if before is not None and not old:
        return Refusal("unassigned", [])
    if before is not None and not can_edit(principal, old):
        return Refusal("outside", [a for a in old if a not in principal.agencies])
    if after is not None and not new:
        return Refusal("no_agency_after", [])
    if after is not None and not can_edit(principal, new):
        return Refusal("outside", [a for a in new if a not in principal.agencies])
    return None


def may_write(principal: Principal | None, before: Mapping[str, Any] | None,
              after: Mapping[str, Any] | None = None) -> bool:
    """True when the scope rule lets `principal` write (see `scope_refusal`)."""
    return scope_refusal(principal, before, after) is None


def editability(principal: Principal | None, record: Mapping[str, Any]) -> str | None:
    """Why `principal` cannot edit `record` as it stands (a reason key), or None if it can."""
    refusal = scope_refusal(principal, record, None)
    return refusal.reason if refusal else None


def _refuse(principal: Principal | None, refusal: Refusal, code: str) -> OutOfScope:
    who = principal.username if principal else "an anonymous caller"
    detail = {
        "anonymous": "sign in first",
        "role": f"a {principal.role if principal else 'viewer'} may not change procedures",
        "unassigned": "it has no agency; only an admin may change or assign it",
        "no_agency_after": "a procedure must keep at least one agency",
        "outside": "outside your agencies: " + ", ".join(refusal.agencies),
    }[refusal.reason]
    return OutOfScope(f"{who} may not change procedure {code}: {detail}.", principal=principal,
                      agencies=refusal.agencies, reason=refusal.reason)


def _guard(principal: Principal | None, code: str) -> Any:
    def check(before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        refusal = scope_refusal(principal, before, after)
        if refusal is not None:
            raise _refuse(principal, refusal, code)
    return check


def _actor(principal: Principal | None) -> str:
    return principal.username if principal else "anonymous"


def create(store: Store, principal: Principal | None, data: Mapping[str, Any], *,
           source: str) -> dict[str, Any]:
    """Register a new procedure (scope: its agencies must all be the principal's)."""
    refusal = scope_refusal(principal, None, with_defaults(dict(data)))
    if refusal is not None:
        raise _refuse(principal, refusal, str(data.get("code", "")))
    return store.create_procedure(data, actor=_actor(principal), source=source)


def _write(store: Store, principal: Principal | None, code: str, changes: Mapping[str, Any], *,
           expected_version: int | None, source: str, action: str,
           reason: str | None = None) -> dict[str, Any]:
    current = store.get_procedure(code)  # NotFound before any other answer
    refusal = scope_refusal(principal, current, None)
    if refusal is not None:  # scope before version: an outsider learns nothing about versions
        raise _refuse(principal, refusal, code)
    if expected_version is None:
        raise VersionRequired(f"say which version of procedure {code} you read")
    status = changes.get("status", current["status"])
    if action == "update" and status != current["status"]:
        # a status change is a retirement or a restoration, whichever way it is asked for
        action = "retire" if status == "retired" else "restore"
    return store.update_procedure(code, changes, expected_version=expected_version,
                                  actor=_actor(principal), source=source, action=action,
                                  reason=reason, guard=_guard(principal, code))


def update(store: Store, principal: Principal | None, code: str, changes: Mapping[str, Any], *,
           expected_version: int | None, source: str) -> dict[str, Any]:
    """Change some fields of a procedure (PATCH, the edit form, a one-row import)."""
    return _write(store, principal, code, changes, expected_version=expected_version, source=source,
                  action="update")


def put_changes(data: Mapping[str, Any]) -> dict[str, Any]:
    """The changes a full replacement (PUT) makes: fields left out take their defaults,
    except `status`: a PUT without `status` keeps the stored one (retiring and restoring
    are explicit acts, never a side effect of leaving a field out)."""
    return {**{k: v for k, v in DEFAULTS.items() if k != "status"}, **data}


def _reason(reason: str | None, *, required: bool) -> str | None:
    text = clean(reason or "")
    if not text:
        if required:
            raise ReasonRequired("give a reason (it is kept in the audit log)")
        return None
    return text[:MAX_REASON]


def retire(store: Store, principal: Principal | None, code: str, *, expected_version: int | None,
           reason: str | None, source: str, reason_required: bool = True) -> dict[str, Any]:
    """Retire (soft delete) a procedure, keeping the reason in the audit log."""
    why = _reason(reason, required=reason_required)
    return _write(store, principal, code, {"status": "retired"}, expected_version=expected_version,
                  source=source, action="retire", reason=why)


def restore(store: Store, principal: Principal | None, code: str, *, expected_version: int | None,
            reason: str | None = None, source: str) -> dict[str, Any]:
    """Bring a retired procedure back into the registry (and into coverage)."""
    return _write(store, principal, code, {"status": "active"}, expected_version=expected_version,
                  source=source, action="restore", reason=_reason(reason, required=False))


def outside_agencies(principal: Principal | None, agencies: Iterable[str]) -> list[str]:
    """The agencies among `agencies` that `principal` may not write (all for a non-editor)."""
    own = set(principal.agencies) if principal else set()
    return [a for a in agencies if a not in own]
