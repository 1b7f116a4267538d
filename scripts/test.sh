#!/usr/bin/env bash
# Sets up a fresh virtual environment and runs the whole test suite (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv --clear .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# The dashboard's end-to-end tests drive Debian's chromium through Playwright.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is not installed and we are not root: browser tests will be skipped" >&2
  fi
fi
exec .venv/bin/python -m pytest -n 2 "$@"
