"""Rewrite README.md's settings table (between the settings markers) from registry/settings.py."""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry.settings import SETTINGS  # noqa: E402


def table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = "(empty)" if s.default == "" else s.default
        lines.append(f"| `{s.env}` | `{default}` | {s.help} |")
    return "\n".join(lines)


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text("utf-8")
    new = re.sub(r"(<!-- settings:start -->).*?(<!-- settings:end -->)",
                 lambda m: m.group(1) + "\n" + table() + "\n" + m.group(2), text, flags=re.S)
    readme.write_text(new, "utf-8")


if __name__ == "__main__":
    main()
