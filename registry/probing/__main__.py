"""Worker process of a background sweep: `python -m registry.probing RUN_ID` (settings from TTHC_*)."""
from __future__ import annotations

import sys

from ..logs import configure_logging
from ..settings import load
from .control import continue_run


def main(argv: list[str]) -> int:
    """Probe what run RUN_ID has left; exit 0 when it completed."""
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: python -m registry.probing RUN_ID", file=sys.stderr)
        return 2
    cfg = load()
    configure_logging(cfg["LOG_FORMAT"])
    run = continue_run(cfg, int(argv[1]))
    return 0 if run["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
