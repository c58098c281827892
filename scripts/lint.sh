#!/usr/bin/env bash
# Every linter and formatter check, writing nothing: ruff (Python lint + format) and biome (JS/TS/CSS).
# Fix what they report with `ruff check --fix . && ruff format .` and `npm --prefix js run format`.
# Needs ruff (the `test` extra installs it) and js/node_modules (`npm --prefix js ci`).
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-python3}"
status=0

echo "== ruff check"
"$py" -m ruff check . || status=1
echo "== ruff format --check"
"$py" -m ruff format --check . || status=1
echo "== biome (js/)"
npm --prefix js run --silent lint || status=1

exit "$status"
