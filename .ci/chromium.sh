#!/usr/bin/env bash
# Ensures Debian's chromium is installed (the dashboard test drives it through playwright-core,
# which downloads no browser) and prints its path on stdout; everything else goes to stderr.
# With CHROMIUM_PATH set it only checks that file and prints it.
set -euo pipefail
if [ -n "${CHROMIUM_PATH:-}" ]; then
  [ -x "$CHROMIUM_PATH" ] || { echo "chromium.sh: CHROMIUM_PATH=$CHROMIUM_PATH is not an executable" >&2; exit 1; }
  printf '%s\n' "$CHROMIUM_PATH"
  exit 0
fi
if ! command -v chromium >/dev/null 2>&1; then
  echo "chromium.sh: chromium is not installed: apt-get install chromium" >&2
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
fi
command -v chromium
