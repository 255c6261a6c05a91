#!/usr/bin/env bash
# Installs the Debian packages the browser tests need (chromium, Japanese fonts) when missing.
# Called by scripts/test.sh. Needs root and apt-get; otherwise it says so and exits 0, and the
# tests that need the browser skip with a clear reason. Never fails the run hard.
set -u

want=()
[ -x /usr/bin/chromium ] || want+=(chromium)
# why: without a CJK font Japanese renders as empty boxes in screenshots
if ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then want+=(fonts-noto-cjk); fi

if [ ${#want[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing ${want[*]} (run as root on Debian/Ubuntu to install); browser tests will skip"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "system-deps: installing ${want[*]}"
if ! apt-get update -qq >/dev/null 2>&1; then
  echo "system-deps: apt-get update failed; browser tests will skip"
  exit 0
fi
if ! apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null 2>&1; then
  echo "system-deps: could not install ${want[*]}; browser tests will skip"
  exit 0
fi
echo "system-deps: installed ${want[*]}"
exit 0
