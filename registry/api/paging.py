"""Page envelopes: items, total, page, per_page and self/next/prev links."""

from __future__ import annotations

from typing import Any, Sequence
from urllib.parse import urlencode

from flask import request


def _link(page: int) -> str:
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    return f"{request.path}?{urlencode([*args, ('page', page)])}"


def page_envelope(items: Sequence[Any], total: int, page: int, per_page: int) -> dict[str, Any]:
    """The body of a paged list (relative links; next/prev null at the ends)."""
    last = max(1, -(-total // per_page))
    return {
        "items": list(items),
        "total": total,
        "page": page,
        "per_page": per_page,
        "links": {
            "self": _link(page),
            "next": _link(page + 1) if page < last else None,
            "prev": _link(min(page - 1, last)) if page > 1 else None,
        },
    }
