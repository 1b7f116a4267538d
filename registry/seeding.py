"""Loading the named fixtures shipped in the `fixtures` package (procedures + targets)."""
from __future__ import annotations

import json
from importlib import resources
from typing import Any

from . import errors
from .importer import parse
from .schemas import TargetSchema
from .store import Store


class FixtureError(errors.NotFound, ValueError):
    """The named fixture does not exist or its data does not validate."""


def available() -> list[str]:
    """Names of the fixtures shipped with the product."""
    root = resources.files("fixtures")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "procedures.jsonl").is_file())


def load_fixture(store: Store, name: str, *, actor: str = "system") -> dict[str, Any]:
    """Load fixture `name` (all-or-nothing, audited) and its targets; returns the outcome counts."""
    if name not in available():
        raise FixtureError(f"unknown fixture {name!r}; available: {', '.join(available())}")
    root = resources.files("fixtures") / name
    parsed = parse((root / "procedures.jsonl").read_bytes(), "procedures.jsonl")
    if parsed.errors:
        raise FixtureError(f"fixture {name} has {len(parsed.errors)} bad rows, first: "
                           f"{parsed.errors[0].to_dict()}")
    outcome = store.apply_import(parsed.rows, actor=actor, source="fixture")
    targets_file = root / "targets.json"
    targets = []
    if targets_file.is_file():
        targets = TargetSchema(many=True).load(json.loads(targets_file.read_text("utf-8")))
        store.replace_targets(targets, actor=actor, source="fixture")
    result = {"fixture": name, "targets": len(targets), **{k: len(v) for k, v in outcome.items()}}
    if (root / "dossiers.jsonl.gz").is_file():
        result["dossiers"] = _load_dossiers(store, root)
    return result


def _load_dossiers(store: Store, root: Any) -> dict[str, Any]:
    """The fixture's dossiers and ratings (gzipped JSONL, as one-stop systems sync them)."""
    import gzip

    from .dossiers import load_rows

    def rows(name: str) -> list[dict[str, Any]]:
        path = root / name
        if not path.is_file():
            return []
        text = gzip.decompress(path.read_bytes()).decode("utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    try:
        written = load_rows(store, rows("dossiers.jsonl.gz"), rows("ratings.jsonl.gz"), source="fixture")
    except ValueError as exc:
        raise FixtureError(f"fixture dossiers: {exc}") from exc
    return {"dossiers": written["dossiers"]["created"] + written["dossiers"]["updated"],
            "ratings": written["ratings"]["created"] + written["ratings"]["updated"]}
