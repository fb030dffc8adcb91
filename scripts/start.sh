#!/usr/bin/env bash
# Install genrescope into .venv, then start the web page and REST API at
# http://127.0.0.1:7860 on the shipped default model (Ctrl+C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export GRADIO_ANALYTICS_ENABLED=False
exec .venv/bin/genrescope serve "$@"
