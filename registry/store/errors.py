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


class StoreFull(StoreBusy):
    """The disk (or the database's size limit) is full: nothing was written; reads still work."""


class StoreDamaged(StoreError):
    """The database file fails SQLite's integrity check (or is not a database at all)."""


class StoreUnavailable(StoreError):
    """The database cannot be opened or written at all (missing permission, read-only directory)."""
