#!/usr/bin/env bash
# The dashboard's end-to-end test drives Debian's chromium (/usr/bin/chromium) with playwright.
# Install it if it is missing. When that is not possible here, print the fix and let the other
# tests run: the dashboard test then fails with the same fix (it never skips).
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    SUDO="unavailable"
  fi
fi

if [ "$SUDO" != "unavailable" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (for the dashboard's browser test)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null || true
  $SUDO apt-get install -y -q --no-install-recommends chromium >/dev/null || true
fi

if [ -x "$CHROMIUM" ]; then
  echo "chromium installed: $($CHROMIUM --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi
echo "chromium is missing at $CHROMIUM and could not be installed here; the dashboard test" \
     "will fail. Install it as root: apt-get install -y chromium" >&2
