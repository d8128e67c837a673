#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# try-it.sh - see the plugin work in one command, on Debian bookworm.
#
# Installs the build dependencies (scripts/install-deps.sh), builds into
# build/, starts the local test server (rdt-test-server) on a fresh data dir,
# makes a new space (a fresh space key and symmetric root; you log in as the
# space's owner), posts a welcome message to topic "general", writes a
# throw-away Finch config dir (the account, an auto-joined chat "general",
# the plugin from build/, the windows laid out for the terminal's size) and
# opens Finch in this terminal. Type in the
# chat window; quit Finch (Alt+q) and the server is stopped and the
# temporary files removed.
#
#   scripts/try-it.sh [--no-deps] [--no-build] [--port PORT] [--keep]
#                     [--plugin FILE]
#
#   --no-deps    do not run scripts/install-deps.sh (apt-get, needs root/sudo)
#   --no-build   use build/ as it is
#   --port PORT  port of the test server (default: any free port)
#   --keep       keep the temp dir (server data, Finch config, keys)
#   --plugin FILE  load this libreeeductio.so instead of the one in build/
#                (e.g. one unpacked from the .deb)
# BUILD_DIR (default build) selects the build directory.
set -euo pipefail
# shellcheck source=scripts/purple-conf.sh
. "$(dirname "$0")/purple-conf.sh"

self=$(realpath "$0")
cd "$(dirname "$self")/.."
build=${BUILD_DIR:-build}
deps=1 do_build=1 port=0 keep=0 plugin_arg=''
topic=general

usage() { sed -n '/^#   scripts/,/^# BUILD_DIR/p' "$self" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --no-deps) deps=0 ;;
    --no-build) do_build=0 ;;
    --port) [ $# -ge 2 ] || { usage >&2; exit 2; }; port=$2; shift ;;
    --port=*) port=${1#--port=} ;;
    --keep) keep=1 ;;
    --plugin) [ $# -ge 2 ] || { usage >&2; exit 2; }; plugin_arg=$2; shift ;;
    --plugin=*) plugin_arg=${1#--plugin=} ;;
    -h|--help) usage; exit 0 ;;
    *) echo "try-it.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
case $port in ''|*[!0-9]*) echo "try-it.sh: --port wants a number" >&2; exit 2 ;; esac

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ "$deps" = 1 ]; then
  say "Installing dependencies (scripts/install-deps.sh)"
  scripts/install-deps.sh
fi

if [ "$do_build" = 1 ]; then
  say "Building into $build/"
  if [ -d "$build" ]; then
    meson setup --reconfigure "$build" >/dev/null
  else
    meson setup "$build"
  fi
  meson compile -C "$build"
fi

server_bin=$build/server/rdt-test-server
plugin=${plugin_arg:-$build/src/purple/libreeeductio.so}
keygen=$build/tools/rdt-keygen
post=$build/tools/rdt-post
for f in "$server_bin" "$plugin" "$keygen"; do
  [ -x "$f" ] || [ -f "$f" ] || {
    echo "try-it.sh: $f is missing; build first (without --no-build;" \
         "tools/ must be part of the build: subdir('tools') in meson.build)" >&2
    exit 1; }
done
command -v finch >/dev/null || {
  echo "try-it.sh: finch is not installed (apt-get install finch)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rdt-try-XXXXXX")
chmod 700 "$tmp"
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$keep" = 1 ]; then
    echo "try-it.sh: kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

say "Starting the test server"
"$server_bin" --port "$port" --bind 127.0.0.1 --data-dir "$tmp/data" \
  > "$tmp/server.out" 2> "$tmp/server.err" &
server_pid=$!
url=
for _ in $(seq 100); do    # up to 10 s
  url=$(sed -n 's/^rdt-test-server listening on //p' "$tmp/server.out")
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "try-it.sh: the test server did not start:" >&2
  cat "$tmp/server.err" >&2
  exit 1
fi

# A new space: its key (we are its owner) and its symmetric root. Secrets
# go to files of mode 600 in the temp dir, not to the terminal.
umask 077
read -r space owner seed < <("$keygen" key)
root=$("$keygen" root)
printf 'space %s\nowner %s\nseed %s\nroot %s\n' "$space" "$owner" "$seed" "$root" \
  > "$tmp/keys.txt"
user="you@$space"

if [ -x "$post" ]; then
  RDT_SEED=$seed RDT_ROOT=$root "$post" "$url" "$space" "$topic" \
    "Welcome to your new space. Messages here are end-to-end encrypted; the server only sees ciphertext." \
    2> "$tmp/post.err" || echo "try-it.sh: could not post the welcome message (see $tmp/post.err)" >&2
fi

conf=$tmp/finch
mkdir -p "$conf/plugins"
ln -s "$(realpath "$plugin")" "$conf/plugins/libreeeductio.so"
rdt_purple_conf "$conf" finch "$user" "$seed" "$url" "$root" "$topic" "you"
# The windows laid out for this terminal: the chat beside the buddy list.
cols=$(tput cols) lines=$(tput lines) || cols=80 lines=24
rdt_finch_layout "$conf" "${cols:-80}" "${lines:-24}"
seed='' root=''
umask 022

cat <<EOF

  server      $url   (data in $tmp/data)
  space       $space
  account     $user   (keys in $tmp/keys.txt)
  chat        topic "$topic", joined automatically

  Finch keys: Alt+n / Alt+p next / previous window, Alt+c close window,
  Alt+q quit. The buddy list has the focus at first: Alt+n to the
  "$topic" window, then type to post. The account's actions (member ID,
  invite someone, ...): Alt+p back to the buddy list, Ctrl+o opens its
  menu, Accounts (arrow keys), the account, then the action.

EOF
if [ -t 0 ] && [ -t 1 ]; then
  read -r -t 10 -p "Press Enter to open Finch (or wait 10 s)... " _ || true
fi
finch -c "$conf" 2> "$tmp/finch.err" || echo "try-it.sh: finch exited with status $?" >&2
say "Finch closed; stopping the test server"
