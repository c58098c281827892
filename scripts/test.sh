#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, then runs
# the JS unit tests (vitest) and the Python tests (pytest: real model, real spaCy,
# real Chromium and a real JupyterLab server). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-python3}"

if [ ! -x /usr/bin/chromium ]; then
    echo "== installing Debian's chromium for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi

echo "== installing attnwidget with its test extra"
bash scripts/install.sh test

echo "== lint (ruff, biome)"
bash scripts/lint.sh

echo "== JS unit tests"
npm --prefix js test

echo "== Python tests"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
"$py" -m pytest -q -p no:cacheprovider "$@"
