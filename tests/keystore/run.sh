#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs tests/keystore/test-keystore against a real Secret Service: a private
# session bus (dbus-run-session) with its own gnome-keyring-daemon, keyrings
# in a temporary directory, nothing of the desktop's own keyring touched.
#   run.sh unlocked PROGRAM    keyring unlocked (password fed on stdin)
#   run.sh locked PROGRAM      a keyring with a key in it, locked, and no
#                              prompter (no display) to unlock it
#   run.sh no-service PROGRAM  the bus address points at no socket
# Exits 77 (skip) when dbus-run-session or gnome-keyring-daemon is missing,
# after a TAP "1..0 # SKIP why"; meson's TAP runner counts any non-zero
# status as an error, so tests/keystore/meson.build sets
# RDT_KEYSTORE_SKIP_STATUS=0.
set -eu

password=rdt-keystore-test

# Inside the private bus: start the daemon, wait until it owns its name,
# run the program, stop the daemon (it outlives its bus otherwise).
if [ "$1" = --inside ]; then
  unlock=$2 program=$3
  if [ "$unlock" = yes ]; then
    printf %s "$password" | gnome-keyring-daemon --foreground --unlock \
      --components=secrets >/dev/null &
  else
    gnome-keyring-daemon --foreground --components=secrets \
      </dev/null >/dev/null &
  fi
  keyring_pid=$!
  trap 'kill $keyring_pid 2>/dev/null || true' EXIT
  if ! gdbus wait --session --timeout 20 org.freedesktop.secrets; then
    echo "Bail out! gnome-keyring-daemon did not appear on the bus"
    exit 1
  fi
  rc=0
  "$program" || rc=$?
  exit $rc
fi

mode=$1
program=$2

skip () {
  echo "1..0 # SKIP $1"
  exit "${RDT_KEYSTORE_SKIP_STATUS:-77}"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rdt-keystore.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ "$mode" = no-service ]; then
  RDT_KEYSTORE_TEST_MODE=no-service \
    DBUS_SESSION_BUS_ADDRESS="unix:path=$tmp/no-such-bus" "$program"
  exit $?
fi

command -v dbus-run-session >/dev/null 2>&1 \
  || skip "dbus-run-session not found (Debian: dbus-daemon)"
command -v gnome-keyring-daemon >/dev/null 2>&1 \
  || skip "gnome-keyring-daemon not found (Debian: gnome-keyring)"
command -v gdbus >/dev/null 2>&1 \
  || skip "gdbus not found (Debian: libglib2.0-bin)"

# gnome-keyring keeps keyrings in $XDG_DATA_HOME/keyrings and its control
# socket in $XDG_RUNTIME_DIR/keyring.
mkdir -m 700 "$tmp/data" "$tmp/run"
export HOME="$tmp" XDG_DATA_HOME="$tmp/data" XDG_RUNTIME_DIR="$tmp/run"
export XDG_CONFIG_HOME="$tmp/config"
# No display: no unlock prompt can be shown.
unset DISPLAY WAYLAND_DISPLAY

if [ "$mode" = locked ]; then
  # A first session creates the login keyring and puts a key in it, so the
  # tested session finds both on disk, locked.
  if ! RDT_KEYSTORE_TEST_MODE=seed dbus-run-session -- \
       "$0" --inside yes "$program" >"$tmp/seed.log" 2>&1; then
    echo "Bail out! could not prepare the locked keyring:"
    sed 's/^/# /' "$tmp/seed.log"
    exit 1
  fi
  RDT_KEYSTORE_TEST_MODE=locked dbus-run-session -- "$0" --inside no "$program"
  exit $?
fi

RDT_KEYSTORE_TEST_MODE="$mode" dbus-run-session -- "$0" --inside yes "$program"
