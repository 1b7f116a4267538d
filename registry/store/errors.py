"""Errors the store raises: branches of the registry's exception tree (`registry/errors.py`)."""
from __future__ import annotations

from .. import errors


class StoreError(errors.RegistryError):
    """Base of every store error."""


class NotFound(StoreError, errors.NotFound):
    """No such procedure (or other record)."""


class DuplicateCode(StoreError, errors.Conflict):
    """A procedure with this code already exists."""


class VersionConflict(StoreError, errors.PreconditionFailed):
    """The record changed since the caller read it (optimistic concurrency)."""

    def __init__(self, message: str, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version


class StoreBusy(StoreError, errors.Unavailable):
    """Another writer held the database longer than the busy timeout; retrying later may work."""
