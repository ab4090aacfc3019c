#!/usr/bin/env bash
# Chromium and its WebDriver for the admin's browser tests (tests/e2e/test_admin_browser.py).
#
#   scripts/browser-setup.sh
#
# Idempotent and quick once done: installs Debian's chromium, chromium-driver and a font
# (pages are measured in pixels, so text must render) when one is missing, with apt-get, as
# root only; otherwise it says what to install. Exit status 0 = ready; 2 = not installed and
# cannot be here (the browser tests are then skipped, saying why).
set -euo pipefail

PACKAGES=(chromium chromium-driver fonts-dejavu-core)

log() { echo "browser-setup: $*" >&2; }

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  log "the browser tests need, as root: apt-get install -y ${missing[*]}"
  exit 2
fi
log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
    log "apt-get install ${missing[*]} failed"
    exit 2
  }
fi
