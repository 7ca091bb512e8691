#!/usr/bin/env bash
# Makes sure a Chromium the dashboard's browser tests can drive (playwright-core) is installed:
# Debian's own package (`npx playwright install` downloads a browser, which no registry here
# serves). Safe to run again: does nothing when /usr/bin/chromium exists.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  echo "ensure-chromium: $(chromium --version 2>/dev/null || echo chromium) present"
  exit 0
fi
echo "ensure-chromium: installing chromium (Debian's package)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
echo "ensure-chromium: $(chromium --version 2>/dev/null || echo installed)"
