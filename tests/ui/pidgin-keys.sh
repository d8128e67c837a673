#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pidgin-keys.sh - keys at rest in real Pidgin 2.14 (issue #19), with a real
# Secret Service: a private session bus (dbus-run-session) with its own
# gnome-keyring-daemon, unlocked, keyrings in the temp dir.
#
#   tests/ui/pidgin-keys.sh OUTPUT.png
#
# An account whose keys are in accounts.xml (as every account had before)
# logs in; the plugin moves both keys into the keyring: accounts.xml, as
# Pidgin saves it, then has key_storage = secret-service and neither key
# (hex, base64 or base64url). Pidgin quits and starts again (libpurple
# restarted): it logs in with the keys from the keyring and shows a line
# posted meanwhile. The chat window is saved to OUTPUT.png.
#
# Environment: BUILD_DIR (default build), RDT_UI_DEADLINE (seconds, default
# 60), RDT_UI_KEEP=1 keeps the temp dir. Exit status 0 on success, 77
# (skip) when a tool is missing, 1 on failure.
set -euo pipefail

if [ "${1:-}" != --inside ]; then
  for t in dbus-run-session gnome-keyring-daemon gdbus; do
    command -v "$t" >/dev/null || { echo "skip: $t is not installed"; exit 77; }
  done
  keyhome=$(mktemp -d "${TMPDIR:-/tmp}/rdt-pidgin-keys-home-XXXXXX")
  trap 'rm -rf "$keyhome"' EXIT
  mkdir -m 700 "$keyhome/data" "$keyhome/run"
  HOME=$keyhome XDG_DATA_HOME=$keyhome/data XDG_RUNTIME_DIR=$keyhome/run \
    XDG_CONFIG_HOME=$keyhome/config \
    dbus-run-session -- bash "$0" --inside "$@"
  exit $?
fi
shift
# ---- inside the private bus: the keyring, unlocked ----
printf %s rdt-ui-keyring | gnome-keyring-daemon --foreground --unlock \
  --components=secrets > /dev/null 2>&1 &
keyring_pid=$!
gdbus wait --session --timeout 20 org.freedesktop.secrets \
  || { echo "fail: gnome-keyring-daemon did not appear on the bus"; exit 1; }

# shellcheck source=scripts/purple-conf.sh
. "$(dirname "$0")/../../scripts/purple-conf.sh"
self=$(realpath "$0")
cd "$(dirname "$self")/../.."
out=${1:?usage: tests/ui/pidgin-keys.sh OUTPUT.png}
out=$(realpath -m "$out")
build=${BUILD_DIR:-build}
deadline=${RDT_UI_DEADLINE:-60}
topic=general
before="Posted before the keys moved."
after="Posted while Pidgin was closed: read with the keys from the keyring."

plugin=$build/src/purple/libreeeductio.so
keygen=$build/tools/rdt-keygen
post=$build/tools/rdt-post
# shellcheck source=tests/ui/lib.sh
. tests/ui/lib.sh
logs="server.err post.err xvfb.err pidgin.err"
ui_init pidgin-keys pidgin Xvfb xdotool import -- "$plugin" \
  "$build/server/rdt-test-server" "$keygen" "$post"
trap 'ui_cleanup; kill $keyring_pid 2>/dev/null || true' EXIT

ui_start_server
umask 077
read -r space _owner seed < <("$keygen" key)
root=$("$keygen" root)
umask 022
user="pidgin@$space"
RDT_SEED=$seed RDT_ROOT=$root "$post" "$url" "$space" "$topic" "$before" \
  2> "$tmp/post.err" || fail "rdt-post could not post"

conf=$tmp/pidgin
ui_pidgin_conf "$conf" "$user" "$seed" "$url" "$root" "$topic" Alice
grep -qF "$seed" "$conf/accounts.xml" || fail "the account was not written with its key"

# every spelling of both keys a person could paste
spellings() {
  local hex b64
  for hex in "$seed" "$root"; do
    echo "$hex"
    # shellcheck disable=SC2059
    b64=$(printf "$(printf %s "$hex" | sed 's/../\\x&/g')" | base64 -w0)
    echo "$b64"
    printf %s "$b64" | tr '+/' '-_' | tr -d '='
    echo
  done
}
keys_gone() {
  grep -qF "secret-service" "$conf/accounts.xml" || return 1
  ! spellings | grep -v '^$' | grep -qFf - "$conf/accounts.xml"
}

# ---- first start: the keys move ----
RDT_UI_KEEP_BUS=1 ui_start_pidgin "$conf"
chat_window() { xdotool search --onlyvisible --name "^$topic( |\$)" | head -n1 | grep .; }
wait_for "the chat window" chat_window
log_has() { grep -rqF -- "$1" "$conf/logs"; }
wait_for "the first line in the chat log" log_has "$before"
wait_for "accounts.xml with key_storage and neither key" keys_gone
echo "ok: the keys moved into the keyring; accounts.xml has neither (hex, base64, base64url)"

# ---- libpurple restarted: the keys come from the keyring ----
ui_stop "$pidgin_pid"
pidgin_pid=''
RDT_SEED=$seed RDT_ROOT=$root "$post" "$url" "$space" "$topic" "$after" \
  2> "$tmp/post.err" || fail "rdt-post could not post"
pidgin -c "$conf" > "$tmp/pidgin.out" 2> "$tmp/pidgin.err" &
pidgin_pid=$!
wait_for "the chat window after the restart" chat_window
wait_for "the line posted meanwhile in the chat log" log_has "$after"
keys_gone || fail "after the restart accounts.xml has a key again, or no key_storage"
seed='' root=''

echo "ok: after a restart Pidgin logged in with the keys from the keyring"

chat=$(chat_window)
xdotool windowmove "$chat" 0 0 windowsize "$chat" 880 540 windowraise "$chat"
for w in $(xdotool search --onlyvisible --name '^Buddy List$' || true); do
  xdotool windowunmap --sync "$w"
done
mkdir -p "$(dirname "$out")"
import -window "$chat" "$out" || fail "import could not grab the screen"
echo "ok: the chat window saved to $out"
