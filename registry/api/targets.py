"""/api/v1/targets: the plans' targets (data, not code); admins may change them."""

from __future__ import annotations

from typing import Any

from ..context import get_store
from ..store import NotFound
from .blueprint import ApiBlueprint, consumes
from .errors import ApiProblem
from .schemas import TargetIn, TargetList, TargetOut, TargetReplace
from .security import current_principal, require

blp = ApiBlueprint(
    "targets",
    __name__,
    url_prefix="/targets",
    description="Coverage targets from the city's plans (admins may change them).",
)

SOURCE = "api"


def _envelope() -> dict[str, Any]:
    items = get_store().list_targets()
    return {"items": items, "total": len(items)}


@blp.route("", methods=["GET"])
@blp.response(200, TargetList)
def list_targets() -> dict[str, Any]:
    """Every target, by indicator then due date."""
    return _envelope()


@blp.route("", methods=["POST"])
@blp.response(201, TargetOut, description="Created")
@blp.alt_response(
    200, schema=TargetOut, success=True, description="Changed (same indicator and due date)"
)
@require("admin")
@consumes("json")
@blp.arguments(TargetIn)
def upsert_target(target: dict[str, Any]) -> Any:
    """Create the target of an indicator for a due date, or change it if it exists."""
    store = get_store()
    existed = any(
        t["indicator"] == target["indicator"] and t["due"] == target["due"]
        for t in store.list_targets()
    )
    rec = store.upsert_target(target, actor=current_principal().username, source=SOURCE)
    return rec, 200 if existed else 201


@blp.route("", methods=["PUT"])
@blp.response(200, TargetList)
@require("admin")
@consumes("json")
@blp.arguments(TargetReplace)
def replace_targets(body: dict[str, Any]) -> dict[str, Any]:
    """Replace the whole targets table at once."""
    get_store().replace_targets(body["items"], actor=current_principal().username, source=SOURCE)
    return _envelope()


@blp.route(
    "/<int:target_id>",
    methods=["DELETE"],
    parameters=[
        {"in": "path", "name": "target_id", "required": True, "schema": {"type": "integer"}}
    ],
)
@blp.response(204, description="Deleted")
@blp.alt_response(404, response="NOT_FOUND")
@require("admin")
def delete_target(target_id: int) -> Any:
    """Delete one target."""
    try:
        get_store().delete_target(target_id, actor=current_principal().username, source=SOURCE)
    except (NotFound, OverflowError):
        raise ApiProblem(
            404, f"There is no target with id {target_id}.", slug="not-found"
        ) from None
    return "", 204
