"""/api/v1/me: who a token stands for (a cheap way to check a token works)."""

from __future__ import annotations

from typing import Any

from .blueprint import ApiBlueprint
from .schemas import PrincipalSchema
from .security import current_principal, require

blp = ApiBlueprint("account", __name__, url_prefix="/me", description="The caller's identity.")


@blp.route("", methods=["GET"])
@blp.response(200, PrincipalSchema)
@require()
def me() -> dict[str, Any]:
    """The user, role and agencies of the bearer token."""
    return current_principal().to_dict()
