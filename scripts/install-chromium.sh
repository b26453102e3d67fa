#!/usr/bin/env bash
# Install Chromium for the report rendering test (tests/test_report.py).
# Debian and Ubuntu: the distribution's "chromium" package (run as root or with sudo).
# Without it the test is skipped; nothing else needs a browser.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    echo "chromium is already installed: $(command -v chromium || command -v chromium-browser)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
else
    echo "no apt-get here: install Chromium with your system's package manager" >&2
    exit 1
fi

command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
echo "chromium installed: $(command -v chromium || command -v chromium-browser)"
