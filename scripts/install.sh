#!/usr/bin/env bash
# Install attnwidget for development, with the offline model and spaCy pipeline.
# Usage: bash scripts/install.sh [extra]   (extra defaults to "offline"; the test script uses "test")
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-offline}"
py="${PYTHON:-python3}"

# torch first, pinned to the CPU build: a bare `torch` requirement pulls GBs of CUDA wheels.
if ! "$py" -c "import torch" 2>/dev/null; then
    "$py" -m pip install --quiet "torch==2.13.0"
fi
command -v npm >/dev/null || { echo "attnwidget needs Node.js and npm to build its widget bundle (apt-get install nodejs npm)" >&2; exit 1; }
# The hatch build hook runs `npm ci` and the esbuild bundle into attnwidget/static/.
"$py" -m pip install --quiet -e ".[${extra}]"
