#!/usr/bin/env bash
# Fresh machine to plates read: make a virtual environment, install twplate, read the sample plates.
# Usage: bash scripts/demo.sh   (VENV=path to put the environment elsewhere; default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet ".[onnx]"
echo "expected:" && cat samples/labels.tsv
echo "read:"
"$VENV/bin/twplate" read samples/
