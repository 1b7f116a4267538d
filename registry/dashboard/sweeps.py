"""The dashboard's bridge to the probe engine (`registry.probing`), when it is installed."""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Iterable, Mapping

from flask import Flask

from ..store import Store, SweepBusy
from .labels import PAYMENT_CHANNELS, VERDICTS

__all__ = ["SweepBusy", "probing", "can_start", "start", "latest_run", "discrepancy_list",
           "discrepancy_count", "discrepancy_rows", "DISCREPANCY_COLUMNS", "DISCREPANCY_KINDS"]

# Vietnamese labels of the probe engine's discrepancy kinds (registry.probing.DISCREPANCY_KINDS).
DISCREPANCY_KINDS: dict[str, str] = {
    "not_listed": "Kê khai tích hợp, nhưng Cổng DVCQG không có thủ tục",
    "not_integrated": "Kê khai tích hợp, nhưng Cổng chưa có DVC của đơn vị",
    "level_mismatch": "Mức độ trên Cổng khác mức kê khai",
    "link_broken": "Liên kết trên Cổng bị hỏng",
    "undeclared_integrated": "Đã tích hợp trên Cổng, nhưng chưa kê khai",
    "payment_not_configured": "Kê khai thanh toán, nhưng nền tảng chưa cấu hình",
    "payment_rejected": "Kê khai thanh toán, nhưng bị từ chối",
    "payment_invalid_signature": "Kê khai thanh toán, nhưng chữ ký trả về sai",
    "undeclared_payment": "Thanh toán trực tuyến được, nhưng chưa kê khai",
}
DISCREPANCY_COLUMNS = (("code", "Mã thủ tục"), ("name", "Tên thủ tục"), ("agency", "Cơ quan"),
                       ("kind", "Loại sai lệch"), ("declared", "Kê khai"), ("observed", "Trên Cổng"),
                       ("checked_at", "Lúc kiểm tra"))


def probing() -> ModuleType | None:
    """The probe engine module, or None while it is absent."""
    try:
        mod = importlib.import_module("registry.probing")
    except ModuleNotFoundError as exc:
        if exc.name != "registry.probing":
            raise
        return None
    return mod


def can_start() -> bool:
    """True when the probe engine offers a background sweep."""
    mod = probing()
    return mod is not None and hasattr(mod, "start_sweep")


def start(app: Flask, *, kind: str, actor: str) -> dict[str, Any]:
    """Start a sweep of every active procedure in the background; returns the new run."""
    mod = probing()
    assert mod is not None
    return mod.start_sweep(app, kind=kind, actor=actor)


def latest_run(store: Store) -> dict[str, Any] | None:
    """The newest probe run, if any."""
    runs = store.list_runs(limit=1)
    return runs[0] if runs else None


def discrepancy_list(store: Store, cfg: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The probe engine's discrepancy items (None when the engine offers no report)."""
    mod = probing()
    if mod is None or not hasattr(mod, "discrepancies"):
        return None
    return list(mod.discrepancies(store, cfg))


def discrepancy_count(store: Store, cfg: Mapping[str, Any]) -> int | None:
    """How many discrepancies the probe evidence shows (None when unknown)."""
    items = discrepancy_list(store, cfg)
    return None if items is None else len(items)


def discrepancy_rows(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Discrepancy items as flat table rows with a Vietnamese label of their kind."""
    rows = []
    for item in items:
        row = {k: item.get(k) for k, _ in DISCREPANCY_COLUMNS}
        row["kind_label"] = DISCREPANCY_KINDS.get(str(item.get("kind")), str(item.get("kind")))
        for key in ("declared", "observed"):
            value = str(item.get(key) or "")
            row[key + "_label"] = (VERDICTS.get(value) or PAYMENT_CHANNELS.get(value)
                                   or (f"Mức {value}" if value.isdigit() else value or "—"))
        rows.append(row)
    return rows
