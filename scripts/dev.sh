#!/usr/bin/env bash
# One entry point for the two README commands:
#   bash scripts/dev.sh serve   set up .venv, build the index if missing or stale, serve on :8000
#   bash scripts/dev.sh test    set up .venv and the browser, run the whole test suite
set -euo pipefail
cd "$(dirname "$0")/.."

python=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    python="$candidate"; break
  fi
done
[ -n "$python" ] || { echo "exosome-qa needs Python 3.11 or newer on PATH." >&2; exit 1; }

setup() {
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  # Reinstall only when pyproject.toml changed since the last install.
  stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
  if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[test,milvus,ray]'
    rm -f .venv/.installed-* && touch "$stamp"
  fi
}

browser() {
  # Debian's Chromium for the browser tests; Playwright must never download its own.
  if [ ! -x /usr/bin/chromium ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium chromium-driver >/dev/null
  fi
}

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

case "${1:-}" in
  serve)
    setup
    exec .venv/bin/qa serve "${@:2}"
    ;;
  test)
    setup
    browser
    exec .venv/bin/python -m pytest "${@:2}"
    ;;
  *)
    echo "usage: bash scripts/dev.sh serve|test [args]" >&2
    exit 2
    ;;
esac
