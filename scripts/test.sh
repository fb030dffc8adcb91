#!/usr/bin/env bash
# Install genrescope with its test extras, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev
.venv/bin/python -m pytest -q -ra "$@"
