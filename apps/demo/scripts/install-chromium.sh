#!/bin/sh
# Installs Debian's chromium (for the browser demo's end-to-end test) when it is missing.
# Usage: sh apps/demo/scripts/install-chromium.sh   (needs root or sudo; Debian/Ubuntu with apt-get)
# Prints the browser's path on success; exits non-zero with a reason on stderr otherwise.
# Concurrent runs are serialized with a lock so parallel test runs do not fight over dpkg's lock.
set -eu

find_chromium() {
  for c in "${PV_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$c" ] && [ -x "$c" ]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

if find_chromium; then exit 0; fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: no chromium at /usr/bin/chromium and no apt-get to install it" >&2
  exit 3
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install-chromium: chromium is missing and installing it needs root (no passwordless sudo)" >&2
    exit 3
  fi
fi

install_chromium() {
  # Another run may have installed it while this one waited for the lock.
  if find_chromium >/dev/null; then return 0; fi
  echo "install-chromium: installing Debian's chromium with apt-get (one time)" >&2
  $SUDO apt-get update >&2 || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2
}

LOCK="${TMPDIR:-/tmp}/pv-install-chromium.lock"
if command -v flock >/dev/null 2>&1; then
  (
    flock -w 1200 9 || { echo "install-chromium: timed out waiting for $LOCK" >&2; exit 3; }
    install_chromium
  ) 9>"$LOCK"
else
  install_chromium
fi

if find_chromium; then exit 0; fi
echo "install-chromium: apt-get finished but no chromium binary was found" >&2
exit 3
