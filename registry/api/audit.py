"""/api/v1/audit: every recorded change (who, when, from where, before and after)."""

from __future__ import annotations

from typing import Any

from ..context import get_store
from .blueprint import ApiBlueprint
from .paging import page_envelope
from .schemas import AuditArgs, AuditPage

blp = ApiBlueprint(
    "audit",
    __name__,
    url_prefix="/audit",
    description="The audit log of every write (API, imports, CLI, probes).",
)


@blp.route("", methods=["GET"])
@blp.arguments(AuditArgs, location="query")
@blp.response(200, AuditPage)
def list_audit(args: dict[str, Any]) -> dict[str, Any]:
    """Audit entries, newest first, filtered by procedure, actor, source, entity and time."""
    filters: dict[str, Any] = {
        k: args.get(k) for k in ("actor", "source", "entity", "since", "until")
    }
    if args.get("procedure"):
        filters.update(entity="procedure", key=args["procedure"])
    page, per_page = args["page"], args["per_page"]
    store = get_store()
    total = store.count_audit(**filters)
    items = store.list_audit(**filters, limit=per_page, offset=(page - 1) * per_page)
    return page_envelope(items, total, page, per_page)
