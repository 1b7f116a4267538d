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


class StoreFull(StoreBusy):
    """The disk (or the database's size limit) is full: nothing was written; reads still work."""

    slug = "storage-full"
    title_vi = "Không thể lưu dữ liệu"
    message_vi = ("Ổ đĩa chứa cơ sở dữ liệu đã đầy nên chưa có gì được lưu. Bạn vẫn xem được dữ liệu; "
                  "hãy báo quản trị viên giải phóng dung lượng.")
    headers = {"Retry-After": "60"}


class StoreDamaged(StoreError, errors.Unavailable):
    """The database file fails SQLite's integrity check (or is not a database at all)."""

    slug = "storage-damaged"
    title_vi = "Cơ sở dữ liệu bị hỏng"
    message_vi = "Tệp cơ sở dữ liệu bị hỏng; quản trị viên cần khôi phục từ bản sao lưu (tthc restore)."
    headers = {}


class StoreUnavailable(StoreError, errors.Unavailable):
    """The database cannot be opened or written at all (missing permission, read-only directory)."""

    slug = "storage-unavailable"
    title_vi = "Không mở được cơ sở dữ liệu"
    message_vi = "Không mở được tệp cơ sở dữ liệu; hãy báo quản trị viên kiểm tra quyền ghi của thư mục."
    headers = {}
