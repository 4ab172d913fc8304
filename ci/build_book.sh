#!/usr/bin/env bash
# Build the book: execute every chapter, render it strictly, check the HTML.
#
#   bash ci/build_book.sh [PROFILE]      PROFILE: smoke | cpu (default) | paper; or PROFILE=... in env
#
# 1. ci/setup.sh (idempotent: creates or reuses .venv)          skip with SKIP_SETUP=1
# 2. ci/run_notebooks.py --profile PROFILE                       extra arguments in RUN_ARGS
#    (runs every notebook even after a failure; failed ones go to book/failed/ and get a stub page)
# 3. jupyter-book build, strict (-W -n --keep-going), always run so the rest of the book shows;
#    output: book/_build/html/index.html
# 4. ci/check_html.py --profile PROFILE                          skip with CHECK_HTML=0
# 5. ci/check_browser.py: every page in headless Chromium at 1280 and 390 px, screenshots in
#    book/_build/screenshots/ and screenshots_390/
#    (says so and passes where no Chromium is installed)         skip with CHECK_BROWSER=0
# UTICKET_REPO_URL=https://github.com/OWNER/uticket adds Binder/Colab launch buttons (off otherwise).
# Exits non-zero if any step failed, listing the failed notebooks; prints the time of each step.
set -uo pipefail
cd "$(dirname "$0")/.."

PROFILE=${1:-${PROFILE:-cpu}}
case "$PROFILE" in
  smoke|cpu|paper) ;;
  *) echo "build_book: unknown profile '$PROFILE' (smoke, cpu or paper)" >&2; exit 2 ;;
esac
PY=.venv/bin/python
JB=.venv/bin/jupyter-book
now() { date +%s; }
fmt() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
failed=()
t_start=$(now)

if [ "${SKIP_SETUP:-0}" != 1 ]; then
  bash ci/setup.sh || { echo "build_book: ci/setup.sh failed" >&2; exit 1; }
fi

echo "== build_book: executing notebooks (profile $PROFILE)"
t0=$(now)
# shellcheck disable=SC2086  # RUN_ARGS is a list of words on purpose
"$PY" ci/run_notebooks.py --profile "$PROFILE" ${RUN_ARGS:-} || failed+=("notebooks")
t_nb=$(( $(now) - t0 ))

echo "== build_book: jupyter-book build (strict)"
t0=$(now)
rm -rf book/_build
# Launch buttons (Binder, Colab) only where the repository's public URL is known: UTICKET_REPO_URL
# (e.g. https://github.com/OWNER/uticket) adds them to a copy of _config.yml; without it the book has
# none and works offline.
CONFIG=_config.yml
if [ -n "${UTICKET_REPO_URL:-}" ]; then
  CONFIG=$(mktemp --suffix=.yml)
  "$PY" - "$UTICKET_REPO_URL" "${UTICKET_REPO_BRANCH:-main}" "$CONFIG" <<'EOF'
import sys
import yaml
url, branch, out = sys.argv[1:]
cfg = yaml.safe_load(open("_config.yml"))
cfg["repository"] = {"url": url, "branch": branch, "path_to_book": "."}
cfg.setdefault("html", {})["use_repository_button"] = True
cfg.setdefault("launch_buttons", {}).update(binderhub_url="https://mybinder.org",
                                            colab_url="https://colab.research.google.com")
yaml.safe_dump(cfg, open(out, "w"), sort_keys=False)
EOF
  echo "== build_book: launch buttons for $UTICKET_REPO_URL ($CONFIG)"
fi
"$JB" build . --config "$CONFIG" --toc book/_toc.yml --path-output book \
  -W -n --keep-going --all || failed+=("jupyter-book build (warnings are errors)")
t_jb=$(( $(now) - t0 ))

t_check=0
if [ "${CHECK_HTML:-1}" != 0 ] && [ -f book/_build/html/index.html ]; then
  echo "== build_book: checking the HTML"
  t0=$(now)
  "$PY" ci/check_html.py --profile "$PROFILE" || failed+=("check_html")
  t_check=$(( $(now) - t0 ))
fi

t_browser=0
if [ "${CHECK_BROWSER:-1}" != 0 ] && [ -f book/_build/html/index.html ]; then
  echo "== build_book: opening every page in headless Chromium"
  t0=$(now)
  "$PY" ci/check_browser.py || failed+=("check_browser")
  echo "== build_book: ... and again at a phone's width (390 px)"
  "$PY" ci/check_browser.py --width 390 --height 844 --shots book/_build/screenshots_390 \
    || failed+=("check_browser at 390 px")
  t_browser=$(( $(now) - t0 ))
fi

t_total=$(( $(now) - t_start ))
echo "== build_book: notebooks $(fmt "$t_nb"), jupyter-book $(fmt "$t_jb"), check $(fmt "$t_check"), browser $(fmt "$t_browser"), total $(fmt "$t_total") (profile $PROFILE)"
echo "== build_book: book/_build/html/index.html"
if [ ${#failed[@]} -gt 0 ]; then
  echo "build_book: FAILED: ${failed[*]}" >&2
  "$PY" - <<'EOF' >&2
import json, pathlib
p = pathlib.Path("book/executed/_status.json")
if p.is_file():
    for name, n in json.loads(p.read_text())["notebooks"].items():
        if n.get("status") != "ok":
            print(f"  {name}: {n.get('status')}: {n.get('error')}")
EOF
  exit 1
fi
echo "build_book: ok"
