#!/usr/bin/env bash
# Create or reuse .venv with the pinned package set, and the Fashion-MNIST Debian package where possible.
# Idempotent: a second run with an up-to-date venv installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
STAMP="$VENV/.uticket-setup"
want=$(cat ci/requirements.txt pyproject.toml | sha256sum | cut -c1-16)

# Fashion-MNIST from Debian (the only offline source here); skipped quietly where apt or root is missing.
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[setup] installing dataset-fashion-mnist (Debian)"
  (apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
    || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1)) \
    || echo "[setup] warning: could not install dataset-fashion-mnist; the cpu book needs Fashion-MNIST (set UTICKET_DATA or allow downloads)"
fi

# Chromium for ci/check_browser.py (the book opened in a real browser); without it that check says so
# and is skipped.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[setup] installing chromium (Debian) for the browser check"
  (apt-get install -y -q chromium >/dev/null 2>&1 \
    || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) \
    || echo "[setup] warning: could not install chromium; ci/check_browser.py will be skipped"
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "[setup] $VENV up to date"
  exit 0
fi
# pip prints one warning per package for index locations absent on this machine; keep the log short.
pipq() { "$VENV/bin/python" -m pip install -q "$@" 2>&1 | { grep -v "^WARNING: Location '" || true; }; }
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pipq --upgrade pip
pipq -r ci/requirements.txt
pipq --no-deps -e .
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
echo "$want" > "$STAMP"
echo "[setup] $VENV ready"
