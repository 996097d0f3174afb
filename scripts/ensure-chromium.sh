#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; browsers cannot be downloaded by Playwright here).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
echo "installing Debian's chromium for the browser tests" >&2
if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi
$sudo apt-get install -y -qq chromium >/dev/null 2>&1 || {
  $sudo apt-get update -qq >/dev/null 2>&1
  $sudo apt-get install -y -qq chromium >/dev/null
}
command -v chromium >/dev/null
