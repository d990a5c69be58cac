#!/usr/bin/env bash
# Create .venv (if missing) and install Warble with everything the quickstart and the tests need.
# Idempotent and quiet: a second run only checks that everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv" >&2
    "$PY" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
echo "setup: installing warble and its dependencies into .venv" >&2
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev,ray]"
