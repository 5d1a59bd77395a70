#!/bin/sh
# Install what the browser tests need: Debian's Chromium (Playwright drives it through
# executable_path=/usr/bin/chromium; we never run `playwright install`, which downloads a
# browser) and an emoji font so screenshots show emoji. Needs root and apt-get; otherwise
# it does nothing and the browser tests skip with a reason.
set -eu

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: /usr/bin/chromium missing; run as root on Debian/Ubuntu to install it (browser tests will skip)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true  # an offline mirror may still have the packages cached
apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
echo "install-browser: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
