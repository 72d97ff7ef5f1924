#!/usr/bin/env bash
# Make Debian's chromium available for the browser tests (tests/browser: Playwright drives it through
# `executable_path`; Playwright's own browser download is never used).
#
#   scripts/chromium.sh
#
# If no chromium is on PATH: install Debian's `chromium` package with apt-get (needs root).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  echo "chromium.sh: $(chromium --version 2>/dev/null | head -1)"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "chromium.sh: chromium is missing, and installing it needs root (apt-get install chromium)" >&2; exit 1; }
echo "chromium.sh: apt-get install chromium ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
chromium --version 2>/dev/null | head -1
