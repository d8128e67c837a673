# SPDX-License-Identifier: GPL-2.0-or-later
# lib.sh - what the Pidgin scripts of tests/ui share (sourced, not run):
# the tool check, a private temp dir cleaned up on exit, waiting with a
# deadline, the test server, and Xvfb with Pidgin on it.
#
# The sourcing script sets `build`, `deadline` and `logs` (the files of
# $tmp that `fail` prints) first, and calls ui_init with its tools and the
# build outputs it needs, and a name for the temp dir.

server_pid='' xvfb_pid='' pidgin_pid=''

# ui_init NAME TOOL... -- FILE...: exit 77 (skip) when a tool is missing,
# 1 when a build output is; makes $tmp.
ui_init() {
  local name=$1 f
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    command -v "$1" >/dev/null || { echo "skip: $1 is not installed"; exit 77; }
    shift
  done
  [ $# -gt 0 ] && shift
  for f in "$@"; do
    [ -e "$f" ] || { echo "fail: $f is missing (build first)"; exit 1; }
  done
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/rdt-$name-XXXXXX")
  chmod 700 "$tmp"
  trap ui_cleanup EXIT
  trap 'exit 1' INT TERM HUP
}

# Stops process $1 (SIGTERM: Pidgin quits cleanly), SIGKILL after 10 s.
# Pidgin 2.14 was seen to spin in libpurple's
# purple_notify_close_with_handle() on quit with the Invitation and Buddy
# Information windows open (about one run in four); the scripts have
# checked everything by then, so that must not hang them.
ui_stop() {
  local n=0
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null || true
  while kill -0 "$1" 2>/dev/null && [ "$n" -lt 50 ]; do
    sleep 0.2
    n=$((n + 1))
  done
  if kill -0 "$1" 2>/dev/null; then
    echo "warning: process $1 did not stop within 10 s of SIGTERM: killed"
    kill -9 "$1" 2>/dev/null || true
  fi
  wait "$1" 2>/dev/null || true
}

ui_cleanup() {
  ui_stop "$pidgin_pid"; ui_stop "$xvfb_pid"; ui_stop "$server_pid"
  if [ "${RDT_UI_KEEP:-}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}

fail() {
  local f
  echo "fail: $*"
  for f in $logs; do
    [ -s "$tmp/$f" ] && { echo "---- $f"; tail -n 30 "$tmp/$f"; }
  done
  exit 1
}

# Poll "$@" until it succeeds or the deadline passes.
wait_for() {
  local what=$1; shift
  local end=$(( $(date +%s) + deadline ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || fail "timed out after ${deadline}s waiting for $what"
    [ -z "$pidgin_pid" ] || kill -0 "$pidgin_pid" 2>/dev/null || fail "pidgin exited"
    sleep 0.2
  done
}

# The test server on a free port with a fresh data dir: sets $url.
ui_server_url() { sed -n 's/^rdt-test-server listening on //p' "$tmp/server.out" | grep .; }
ui_start_server() {
  "$build/server/rdt-test-server" --port 0 --bind 127.0.0.1 \
    --data-dir "$tmp/data" > "$tmp/server.out" 2> "$tmp/server.err" &
  server_pid=$!
  wait_for "the test server" ui_server_url
  url=$(ui_server_url)
}

# Xvfb (1280x640) as $DISPLAY, then Pidgin with the config dir $1 and
# any further options; its output in $tmp/pidgin.out and pidgin.err.
ui_start_pidgin() {
  local conf=$1
  shift
  exec 3> "$tmp/display"
  Xvfb -displayfd 3 -screen 0 1280x640x24 -nolisten tcp > "$tmp/xvfb.err" 2>&1 &
  xvfb_pid=$!
  exec 3>&-
  wait_for "Xvfb" grep -q '[0-9]' "$tmp/display"
  DISPLAY=:$(head -n1 "$tmp/display")
  export DISPLAY
  # the desktop's own keyring is never touched; pidgin-keys.sh brings a
  # private one (RDT_UI_KEEP_BUS=1)
  [ "${RDT_UI_KEEP_BUS:-}" = 1 ] || unset DBUS_SESSION_BUS_ADDRESS
  pidgin "$@" -c "$conf" > "$tmp/pidgin.out" 2> "$tmp/pidgin.err" &
  pidgin_pid=$!
}

# ui_pidgin_conf DIR USER SEED URL ROOT TOPIC ALIAS: a Pidgin config dir
# with the plugin (from $plugin), the account and its auto-joined chat
# (scripts/purple-conf.sh), and chat logs in plain text, which the scripts
# read as their proof of what Pidgin showed.
ui_pidgin_conf() {
  local conf=$1
  mkdir -p "$conf/plugins"
  ln -s "$(realpath "$plugin")" "$conf/plugins/libreeeductio.so"
  rdt_purple_conf "$conf" pidgin "$2" "$3" "$4" "$5" "$6" "$7"
  cat > "$conf/prefs.xml" <<PREFS
<?xml version='1.0' encoding='UTF-8' ?>
<pref version='1' name='/'>
 <pref name='purple'>
  <pref name='logging'>
   <pref name='log_chats' type='bool' value='1'/>
   <pref name='format' type='string' value='txt'/>
  </pref>
 </pref>
</pref>
PREFS
}
