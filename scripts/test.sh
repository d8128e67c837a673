#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build and run the whole test suite (the README's test command).
# BUILD_DIR defaults to ./build; extra arguments go to `meson setup`.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
if [ -d "$build" ]; then
  meson setup --reconfigure "$build" "$@" >/dev/null
else
  meson setup "$build" "$@"
fi
meson compile -C "$build"
meson test -C "$build" --print-errorlogs --num-processes 2
