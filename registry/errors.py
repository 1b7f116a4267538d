"""The registry's exception tree (like httpx's): one root, each class carrying what the shells need.

Every error the registry raises on purpose is a `RegistryError`. Each class carries its HTTP `status`,
a problem-type `slug` (the API's `urn:tthc:problem:<slug>`) and a Vietnamese title for the dashboard's
error page. The shells map the tree in one place each: the API (`api/errors.py`, problem+json), the
dashboard (`dashboard/__init__.py`, its error page) and the CLI (`cli/__init__.py`, one line, exit 1).

    RegistryError                      500
    ├── InvalidInput                   422   (also a ValueError)
    ├── Forbidden                      403
    ├── NotFound                       404   (also a LookupError)
    ├── Conflict                       409
    │   └── PreconditionFailed         412
    └── Unavailable                    503   (retry later: Retry-After)
"""
from __future__ import annotations


class RegistryError(Exception):
    """Root of every error the registry raises on purpose."""

    status: int = 500
    slug: str = "internal-error"
    title_vi: str = "Lỗi máy chủ"
    headers: dict[str, str] = {}
    #: What a Vietnamese page may say beside the title (the message itself is English, for the API/CLI).
    message_vi: str | None = None


class InvalidInput(RegistryError, ValueError):
    """The input does not validate (a request, a file, a setting, a selection)."""

    status = 422
    slug = "invalid-input"
    title_vi = "Dữ liệu không hợp lệ"


class Forbidden(RegistryError):
    """The principal may not do this (role or agency scope)."""

    status = 403
    slug = "forbidden"
    title_vi = "Không có quyền"


class NotFound(RegistryError, LookupError):
    """No such record."""

    status = 404
    slug = "not-found"
    title_vi = "Không tìm thấy"


class Conflict(RegistryError):
    """The request conflicts with the current state (a duplicate, a run in progress)."""

    status = 409
    slug = "conflict"
    title_vi = "Xung đột dữ liệu"


class PreconditionFailed(Conflict):
    """The record changed since the caller read it (optimistic concurrency)."""

    status = 412
    slug = "version-conflict"
    title_vi = "Dữ liệu đã thay đổi"


class Unavailable(RegistryError):
    """A resource is busy or down for now; retrying later may work."""

    status = 503
    slug = "unavailable"
    title_vi = "Tạm thời không phục vụ được"
    headers = {"Retry-After": "1"}
