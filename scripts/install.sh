#!/usr/bin/env bash
# Install attnwidget for development, with the offline model and spaCy pipeline.
# Usage: bash scripts/install.sh [extra]   (extra defaults to "offline"; the test script uses "test")
#
# torch first, chosen by scripts/choose_torch.py (its docstring has the details):
#   an importable torch in attnwidget's range is always kept, never reinstalled;
#   else ATTNWIDGET_TORCH=auto (default): the CUDA build where an NVIDIA GPU is present, else the
#   CPU build (~180 MB) from PyTorch's CPU index. PyPI alone offers only the CUDA build on Linux
#   x86_64 (~2.5 GB of NVIDIA wheels): without that index, auto takes it with a warning.
#   ATTNWIDGET_TORCH=cpu | cuda | keep chooses yourself.
# ATTNWIDGET_DRY_RUN=1 prints what would be installed and installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-offline}"
py="${PYTHON:-python3}"
dry="${ATTNWIDGET_DRY_RUN:-0}"

run() {
    if [ "$dry" = "1" ]; then echo "would run: $*"; else "$@"; fi
}

torch_args="$("$py" scripts/choose_torch.py)"
if [ -n "$torch_args" ]; then
    # shellcheck disable=SC2086  # one pip argument per line, none with spaces
    run "$py" -m pip install --quiet $torch_args
    if [ "$dry" != "1" ]; then
        "$py" -c 'import torch; print("install.sh: installed torch", torch.__version__,
              "(CUDA %s build)" % torch.version.cuda if torch.version.cuda else "(CPU build)")' >&2
    fi
fi
command -v npm >/dev/null || { echo "attnwidget needs Node.js and npm to build its widget bundle (apt-get install nodejs npm)" >&2; exit 1; }
# The hatch build hook runs `npm ci` and the esbuild bundle into attnwidget/static/.
run "$py" -m pip install --quiet -e ".[${extra}]"
