"""Errors the store raises; the interface shells map them to HTTP statuses or CLI messages."""


class StoreError(Exception):
    """Base of every store error."""


class NotFound(StoreError):
    """No such procedure (or other record)."""


class DuplicateCode(StoreError):
    """A procedure with this code already exists."""


class VersionConflict(StoreError):
    """The record changed since the caller read it (optimistic concurrency)."""

    def __init__(self, message: str, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version


class StoreBusy(StoreError):
    """Another writer held the database longer than the busy timeout; retrying later may work."""
