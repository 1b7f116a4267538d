"""The dossiers DVCQG already holds in a world: `fixtures/worlds/<name>-dossiers.json.gz`.

A separate, generated file (`fixtures/build_dossiers.py`) so the world document stays small:
the same dossiers the registry's fixture holds, as DVCQG received them, with deliberate sync
gaps (dossiers missing, statuses behind) listed under `expected_gaps`.
"""
from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from mock_portal.world import World, fixtures_dir


def dossier_file(world: World) -> Path:
    """Where the world's dossiers live (the file may not exist)."""
    return fixtures_dir() / "worlds" / f"{world.name}-dossiers.json.gz"


@lru_cache(maxsize=4)
def _read(path: str, mtime: float) -> dict[str, Any]:
    return json.loads(gzip.decompress(Path(path).read_bytes()).decode("utf-8"))


def world_dossiers(world: World) -> dict[str, dict[str, Any]]:
    """Fresh state entries (`{MaHoSo: {dossier, madonvi, received_at, updates}}`) for the world."""
    path = dossier_file(world)
    if not path.is_file():
        return {}
    data = _read(str(path), path.stat().st_mtime)
    unit = data.get("unit", "")
    return {d["MaHoSo"]: {"dossier": d, "madonvi": unit, "received_at": d.get("NgayTiepNhan"), "updates": 0}
            for d in data["dossiers"]}
