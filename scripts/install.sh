#!/usr/bin/env bash
# Create ./.venv and install genrescope into it.
#   bash scripts/install.sh          the app
#   bash scripts/install.sh --dev    the app and what the tests need (test tools and the
#                                    optional ray extra, whose tests CI runs)
# torch==2.13.0 is installed FIRST: with it in place the package's looser torch
# range installs nothing more (no CUDA packages, no torchvision).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
extras=""
[ "${1:-}" = "--dev" ] && extras="[dev,ray]"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".${extras}"
# A CPU build of torch must not have dragged CUDA packages or torchvision along.
if .venv/bin/python -c "import torch,sys; sys.exit(0 if torch.version.cuda is None else 1)"; then
  if .venv/bin/python -m pip list 2>/dev/null | grep -Ei '^(nvidia-|torchvision|triton )'; then
    echo "install.sh: unexpected CUDA packages or torchvision in .venv (listed above)" >&2
    exit 1
  fi
fi
echo "genrescope installed in .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "cpu")'))"
