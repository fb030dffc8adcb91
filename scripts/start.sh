#!/usr/bin/env bash
# Install genrescope into .venv, then classify a clip it generates itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
clip="$(mktemp -d)/demo_string_chords.wav"
.venv/bin/python -c "import sys, soundfile; from genrescope.synth import chord; soundfile.write(sys.argv[1], chord(12.0), 22050)" "$clip"
.venv/bin/genrescope classify "$clip" "$@"
