"""The probe engine: the only part of the registry that uses both `connectors` and `store`.

- sweeps: `sweep_now` (CLI, `tthc up`), `start_sweep_in_background` (API, dashboard; alias
  `start_sweep`), `start_scheduler` (periodic sweeps); one at a time per database, resumable;
- `discrepancies(store, cfg)`: declarations the latest verdicts contradict;
- payment callbacks: `handle_dvcqg_confirm`, `handle_paygov_ipn`.

See docs/probing.md.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..store import Store, SweepBusy
from .callbacks import HEAD_BYTES, MAX_CALLBACK_BYTES, handle_dvcqg_confirm, handle_paygov_ipn, procedure_of
from .config import ProbeConfigError, SweepOptions, portal_config, sweep_options
from .control import (NothingToResume, prepare, start_scheduler, start_sweep, start_sweep_in_background,
                      sweep_now, wait_background)
from .discrepancies import COLUMNS as DISCREPANCY_COLUMNS
from .discrepancies import KINDS as DISCREPANCY_KINDS
from .discrepancies import find_discrepancies, to_csv
from .plan import KINDS, Item, SelectionError, plan_items
from .dossiers import check_dossiers, open_store_for, relay_join, relay_once, relay_soon, relay_until_stopped


def discrepancies(store: Store, cfg: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows {code, name, agency, kind, declared, observed, checked_at} from the latest verdicts."""
    return find_discrepancies(store.all_procedures(), store.latest_verdicts())


def discrepancies_csv(store: Store, cfg: Mapping[str, Any] | None = None) -> str:
    """The discrepancy report as CSV."""
    return to_csv(discrepancies(store, cfg))


__all__ = [
    "DISCREPANCY_COLUMNS", "DISCREPANCY_KINDS", "KINDS", "Item", "NothingToResume", "ProbeConfigError",
    "SelectionError", "SweepBusy", "SweepOptions", "discrepancies", "discrepancies_csv",
    "find_discrepancies", "handle_dvcqg_confirm", "handle_paygov_ipn", "plan_items", "portal_config",
    "prepare", "procedure_of", "start_scheduler", "start_sweep", "start_sweep_in_background",
    "sweep_now", "sweep_options", "to_csv", "wait_background",
    "HEAD_BYTES", "MAX_CALLBACK_BYTES",
    "check_dossiers", "open_store_for", "relay_join", "relay_once", "relay_soon", "relay_until_stopped",
]
