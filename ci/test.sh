#!/usr/bin/env bash
# The README's test command: set up (venv, pinned installs, Fashion-MNIST package), run the unit tests,
# then build the smoke-profile book, check its HTML and open every page in headless Chromium
# (ci/check_browser.py, run by ci/build_book.sh). Works from a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
export PYTHONHASHSEED=0
echo "[test] unit tests"
.venv/bin/python -m pytest tests -p no:cacheprovider
if [ "${SKIP_BOOK:-0}" != 1 ]; then
  echo "[test] smoke book"
  UTICKET_RUNS="${UTICKET_RUNS:-$PWD/runs}" bash ci/build_book.sh smoke
fi
