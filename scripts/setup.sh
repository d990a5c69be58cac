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
# PyTorch first, pinned to the CPU build that lies on this machine's disk: left to resolve `torch>=...` itself,
# pip would fetch a multi-GB CUDA build. Production installs bring their own (CUDA) torch.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    echo "setup: installing torch (CPU build)" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
fi
echo "setup: installing warble and its dependencies into .venv" >&2
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev,ray,postgres]"
