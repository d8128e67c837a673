#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build and run the whole test suite (the README's test command).
#
#   scripts/test.sh [--no-deps] [MESON-SETUP-ARGS...]
#
# If meson, ninja or a -dev package (pkg-config) is missing, runs
# scripts/install-deps.sh first (apt-get, as root or through sudo), as
# try-it.sh does; --no-deps or RDT_NO_DEPS=1 skips that.
# BUILD_DIR defaults to ./build; other arguments go to `meson setup`.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
deps=1
[ "${RDT_NO_DEPS:-0}" = 1 ] && deps=0

# Drop our own option, keep everything else for meson in its order.
args=()
for arg in "$@"; do
  if [ "$arg" = --no-deps ]; then deps=0; else args+=("$arg"); fi
done

# pkg-config modules of meson.build's dependencies (libpurple's is "purple").
modules=(purple libsoup-3.0 json-glib-1.0 libsodium nettle glib-2.0)

missing_deps() {
  local tool
  for tool in meson ninja pkg-config; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool"; return 0; }
  done
  pkg-config --exists "${modules[@]}" || { echo "development packages"; return 0; }
  return 1
}

if what=$(missing_deps); then
  if [ "$deps" = 0 ]; then
    echo "test.sh: $what missing; run scripts/install-deps.sh" \
         "(or drop --no-deps / RDT_NO_DEPS=1)" >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "test.sh: $what missing and no sudo; run scripts/install-deps.sh" \
         "as root" >&2
    exit 1
  fi
  echo "test.sh: $what missing; running scripts/install-deps.sh" >&2
  bash scripts/install-deps.sh
  if what=$(missing_deps); then
    echo "test.sh: $what still missing after install-deps.sh" >&2
    exit 1
  fi
fi

if [ -d "$build" ]; then
  meson setup --reconfigure "$build" "${args[@]}" >/dev/null
else
  meson setup "$build" "${args[@]}"
fi
meson compile -C "$build"
meson test -C "$build" --print-errorlogs --num-processes 2
