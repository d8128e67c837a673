#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bitlbee-smoke.sh - the plugin inside BitlBee (bitlbee-libpurple), driven
# over IRC: account, settings, login, a chat on topic "general", the
# backlog shown, a message sent.
#
#   tests/ui/bitlbee-smoke.sh
#
# Starts rdt-test-server (fresh data dir), makes a new space with
# rdt-keygen, posts a welcome message with rdt-post, starts BitlBee in
# ForkDaemon mode on a free local port with a throw-away config (the plugin
# is found through PluginDir: <PluginDir>/purple/libreeeductio.so), then an
# IRC client (python3, below) runs the commands of docs/bitlbee.md and
# waits, each step with a deadline, for
#   1. "Logged in" from the account,
#   2. the welcome text in #general (backlog verified and decrypted),
#   3. its own message stored by the server (one more line in the space's
#      data file).
# Optional, not in `meson test` or CI: needs bitlbee-libpurple and python3.
# Environment: BUILD_DIR (default build), RDT_UI_KEEP=1 keeps the temp dir.
# Exit status 0 ok, 77 skip (bitlbee missing), 1 failure (logs printed).
set -euo pipefail

self=$(realpath "$0")
cd "$(dirname "$self")/../.."
build=${BUILD_DIR:-build}
topic=general
welcome="Welcome to topic $topic, written by rdt-post before BitlBee joined."

for tool in bitlbee python3; do
  command -v "$tool" >/dev/null || { echo "skip: $tool is not installed"; exit 77; }
done
server_bin=$build/server/rdt-test-server
plugin=$build/src/purple/libreeeductio.so
keygen=$build/tools/rdt-keygen
post=$build/tools/rdt-post
for f in "$server_bin" "$plugin" "$keygen" "$post"; do
  [ -e "$f" ] || { echo "fail: $f is missing (build first)"; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rdt-bitlbee-XXXXXX")
chmod 700 "$tmp"
server_pid='' bee_pid=''
stop() {
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  stop "$bee_pid"; stop "$server_pid"
  if [ "${RDT_UI_KEEP:-}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail() {
  echo "fail: $*"
  for f in server.err post.err bitlbee.log; do
    [ -s "$tmp/$f" ] && { echo "---- $f"; tail -n 30 "$tmp/$f"; }
  done
  exit 1
}

"$server_bin" --port 0 --bind 127.0.0.1 --data-dir "$tmp/data" \
  > "$tmp/server.out" 2> "$tmp/server.err" &
server_pid=$!
url=
for _ in $(seq 100); do
  url=$(sed -n 's/^rdt-test-server listening on //p' "$tmp/server.out")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || fail "the test server did not start"

umask 077
read -r space _owner seed < <("$keygen" key)
root=$("$keygen" root)
RDT_SEED=$seed RDT_ROOT=$root "$post" "$url" "$space" "$topic" "$welcome" \
  2> "$tmp/post.err" || fail "rdt-post could not post the welcome message"

# A free port for BitlBee (it has no "port 0").
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/bee/conf" "$tmp/bee/plugins/purple"
ln -s "$(realpath "$plugin")" "$tmp/bee/plugins/purple/libreeeductio.so"
cat > "$tmp/bee/bitlbee.conf" <<EOF
[settings]
RunMode = ForkDaemon
AuthMode = Open
ConfigDir = $tmp/bee/conf
PluginDir = $tmp/bee/plugins
EOF
bitlbee -F -n -i 127.0.0.1 -p "$port" -P "$tmp/bee/pid" -c "$tmp/bee/bitlbee.conf" \
  > "$tmp/bitlbee.log" 2>&1 &
bee_pid=$!

# The IRC side. Secrets reach it through the environment, not argv.
RDT_SPACE=$space RDT_SEED=$seed RDT_ROOT=$root RDT_URL=$url RDT_TOPIC=$topic \
RDT_WELCOME=$welcome RDT_PORT=$port RDT_DATA=$tmp/data/$space.jsonl \
python3 - <<'EOF' || fail "IRC session failed"
import os, socket, sys, time
e = os.environ
deadline_s = 30

def connect():
    end = time.time() + deadline_s
    while True:
        try:
            return socket.create_connection(("127.0.0.1", int(e["RDT_PORT"])), timeout=1)
        except OSError:
            if time.time() > end:
                sys.exit("bitlbee does not listen")
            time.sleep(0.1)

s = connect()
s.settimeout(0.2)
buf = b""
def send(line):
    s.sendall((line + "\r\n").encode())

def expect(pattern, what):
    """Read lines until one contains pattern; fail at the deadline."""
    global buf
    end = time.time() + deadline_s
    while time.time() < end:
        while b"\r\n" in buf:
            raw, buf = buf.split(b"\r\n", 1)
            line = raw.decode(errors="replace")
            if line.startswith("PING"):
                send("PONG" + line[4:])
            elif pattern in line:
                print("# got:", line.replace(e["RDT_SEED"], "<seed>").replace(e["RDT_ROOT"], "<root>"))
                return line
            elif "reeeductio - " in line or line.startswith("ERROR"):
                print("# irc:", line)   # account log lines: help debugging
        try:
            data = s.recv(65536)
            if not data:
                sys.exit("bitlbee closed the connection while waiting for " + what)
            buf += data
        except socket.timeout:
            pass
    sys.exit("timed out waiting for " + what)

def root_cmd(cmd, reply):
    send("PRIVMSG &bitlbee :" + cmd)
    expect(reply, repr(reply))

send("NICK tester"); send("USER tester 0 * :tester")
expect(" 366 tester &bitlbee", "the control channel")
# both keys in the password: the space key is no account setting
root_cmd("account add reeeductio irc@%s %s:%s" % (e["RDT_SPACE"], e["RDT_SEED"],
                                                  e["RDT_ROOT"]),
         "Account successfully added")
root_cmd("account reeeductio set server " + e["RDT_URL"], "server = ")
root_cmd("account reeeductio on", "Logged in")
root_cmd("chat add reeeductio %s #%s" % (e["RDT_TOPIC"], e["RDT_TOPIC"]),
         "Chatroom successfully added")
send("JOIN #" + e["RDT_TOPIC"])
expect("PRIVMSG #%s :%s" % (e["RDT_TOPIC"], e["RDT_WELCOME"]), "the welcome message")

def lines():
    with open(e["RDT_DATA"]) as f:
        return sum(1 for _ in f)
before = lines()
send("PRIVMSG #%s :hello from IRC" % e["RDT_TOPIC"])
end = time.time() + deadline_s
while lines() <= before:
    if time.time() > end:
        sys.exit("the message sent from IRC never reached the server")
    time.sleep(0.1)
print("# the server stored the message sent from IRC (%d -> %d lines)" % (before, lines()))
send("QUIT")
EOF
echo "ok: BitlBee logged in, joined #$topic, showed the backlog and sent a message"
