"""Federation: pull other units' coverage reports and sum them (docs/federation.md)."""
from __future__ import annotations

from .service import (BASES, FederationError, NotFound, add_unit, coverage_trend, federated_coverage, list_units,
                      pull, remove_unit)
from .summary import CSV_COLUMNS, to_csv_rows

__all__ = ["BASES", "CSV_COLUMNS", "FederationError", "NotFound", "add_unit", "coverage_trend",
           "federated_coverage", "list_units", "pull", "remove_unit", "to_csv_rows"]
