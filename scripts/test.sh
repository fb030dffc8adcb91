#!/usr/bin/env bash
# Install genrescope with its test extras, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# --dev includes the optional ray extra (tests/test_ray.py needs it): an 80 MB wheel,
# about 2.5 min into a fresh venv here (measured); torch is left as it is.
bash scripts/install.sh --dev
# The browser tests drive Debian's Chromium (tests/test_browser.py skips without it);
# the CJK font makes the Chinese page readable in the test screenshots.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; } ||
    echo "test.sh: could not install chromium; the browser tests will be skipped" >&2
fi
.venv/bin/python -m pytest -v -ra --durations=15 "$@"
