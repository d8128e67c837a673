#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# run.sh - the plugin inside a real Finch, driven through tmux (suite finch).
#
# Starts rdt-test-server on a free port with a fresh data dir, writes a
# throw-away Finch config dir (accounts.xml: a reeeductio account that logs
# in as the owner of a fresh space; blist.xml: an auto-joined chat for the
# topic; plugins/: a symlink to the plugin from the build dir), runs
# `finch -c <confdir>` in a detached tmux session of fixed size, waits until
# the chat window is open (joined), posts a message from a second
# client (tools/rdt-post --as-new-member: a member granted the chat
# capability) and waits until
# `tmux capture-pane` shows its text. Every wait polls with a deadline; on
# failure the captured pane and the logs are printed.
#
# Environment (set by meson): FINCH, TMUX_BIN, RDT_TEST_SERVER_BIN,
# RDT_PLUGIN_DIR (dir of libreeeductio.so), RDT_KEYGEN, RDT_POST. RDT_FINCH_KEEP=1
# keeps the temp dir.
set -eu
# shellcheck source=scripts/purple-conf.sh
. "$(dirname "$0")/../../scripts/purple-conf.sh"

: "${FINCH:=finch}" "${TMUX_BIN:=tmux}"
: "${RDT_TEST_SERVER_BIN:?}" "${RDT_PLUGIN_DIR:?}" "${RDT_KEYGEN:?}" "${RDT_POST:?}"
TOPIC=general
DEADLINE_S=${RDT_FINCH_DEADLINE:-60}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rdt-finch-XXXXXX")
sock="rdt-finch-$$"
server_pid=
tm() { "$TMUX_BIN" -L "$sock" -f /dev/null "$@"; }

cleanup() {
    tm kill-server 2>/dev/null || true
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "${RDT_FINCH_KEEP:-}" = 1 ]; then
        echo "# kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT INT TERM

fail() {
    echo "not ok 1 finch: $*"
    echo "# ---- captured pane ----"
    tm capture-pane -p -t finch 2>/dev/null | sed 's/^/# /' || true
    for f in server.out server.err finch.err peer.err; do
        [ -s "$tmp/$f" ] && { echo "# ---- $f ----"; sed 's/^/# /' "$tmp/$f"; }
    done
    exit 1
}

# Poll until the pane contains the fixed string $1 (deadline DEADLINE_S).
wait_pane() {
    end=$(( $(date +%s) + DEADLINE_S ))
    while [ "$(date +%s)" -lt "$end" ]; do
        if tm capture-pane -p -t finch 2>/dev/null | grep -qF -- "$1"; then
            return 0
        fi
        tm has-session -t finch 2>/dev/null || fail "finch exited while waiting for '$1'"
        sleep 0.2
    done
    fail "timed out after ${DEADLINE_S}s waiting for '$1' in the Finch window"
}

echo "1..1"

# ---- the server ----
"$RDT_TEST_SERVER_BIN" --port 0 --bind 127.0.0.1 --data-dir "$tmp/data" \
    > "$tmp/server.out" 2> "$tmp/server.err" &
server_pid=$!
end=$(( $(date +%s) + 20 ))
url=
while [ -z "$url" ]; do
    url=$(sed -n 's/^rdt-test-server listening on //p' "$tmp/server.out")
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || fail "rdt-test-server exited"
    [ "$(date +%s)" -lt "$end" ] || fail "rdt-test-server did not start"
    sleep 0.1
done

# ---- keys and the Finch config dir ----
keys=$("$RDT_KEYGEN" key)
space=${keys%% *} seed=${keys##* }
user="finch@$space"
root=$("$RDT_KEYGEN" root)
conf="$tmp/conf"
mkdir -p "$conf/plugins"
chmod 700 "$conf"
ln -s "$RDT_PLUGIN_DIR/libreeeductio.so" "$conf/plugins/libreeeductio.so"
rdt_purple_conf "$conf" finch "$user" "$seed" "$url" "$root" "$TOPIC"

# ---- Finch in tmux ----
tm new-session -d -s finch -x 160 -y 48 \
    "TERM=screen-256color exec '$FINCH' -c '$conf' 2> '$tmp/finch.err'" \
    || fail "cannot start tmux"
# Joined: Finch opened the chat window ("general (finch@S... -- reeeductio)"
# in its window list), which happens once the account signed on and the
# plugin joined the auto-join chat.
wait_pane "$TOPIC (finch@"

# ---- the second client posts; Finch must show it ----
text="hello-from-peer-$$"
peer_nick=$(RDT_SEED=$seed RDT_ROOT=$root "$RDT_POST" --as-new-member "$url" \
    "$space" "$TOPIC" "$text" 2> "$tmp/peer.err") || fail "rdt-post could not post"
[ -n "$peer_nick" ] || fail "rdt-post printed no nick"
# The new chat window opens partly under the buddy list: cycle the focus
# (Finch's Alt+n, "next window") until the chat window is on top, i.e.
# until the text shows; a bounded number of tries.
wait_pane "$text"
tries=0
until tm capture-pane -p -t finch | grep -qF -- "$peer_nick: $text"; do
    tries=$((tries + 1))
    [ "$tries" -le 10 ] || fail "no chat line '$peer_nick: $text' after raising each window"
    tm send-keys -t finch M-n
    # let Finch redraw before looking again (polled, bounded)
    end=$(( $(date +%s) + 2 ))
    while [ "$(date +%s)" -lt "$end" ] && \
          ! tm capture-pane -p -t finch | grep -qF -- "$peer_nick: $text"; do
        sleep 0.1
    done
done
# A chat line from the peer (by its short id), not just the text anywhere.
wait_pane "$peer_nick: $text"
tm capture-pane -p -t finch | grep -F -- "$text" | sed 's/^/# shown: /'

echo "ok 1 finch shows a message posted by a second client"
