#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# run.sh - the plugin inside a real Finch, driven through tmux (suite finch).
#
# Starts rdt-test-server on a free port with a fresh data dir, writes a
# throw-away Finch config dir (accounts.xml: a reeeductio account that logs
# in as the owner of a fresh space; blist.xml: an auto-joined chat for the
# topic; plugins/: a symlink to the plugin from the build dir), runs
# `finch -c <confdir>` in a detached 180x50 tmux session with the window
# layout of scripts/purple-conf.sh (rdt_finch_layout, as try-it.sh), waits
# until the chat window is open (joined) and shows the long welcome line
# posted before Finch started uncut on one line of the screen, right of the
# buddy list (the first screen a newcomer sees), then posts a message from
# a second client (tools/rdt-post --as-new-member: a member granted the
# chat capability) and waits until `tmux capture-pane` shows its chat line
# without any key pressed. Then it uses each key scripts/try-it.sh names
# as it says (Alt+n and typing to post, Alt+p, Ctrl+o > Accounts > the
# account's actions, Alt+c, Alt+q; /reply and /edit typed into the chat)
# and checks the account actions' windows
# as a Finch user sees them: "Show my member ID" with both ids whole on
# lines of their own and no "ask an admin" for the owner, "Export
# credentials" with buttons "Show" and "Cancel" (no mnemonic underscore),
# "Invite someone" naming a file of mode 600 in the purple dir that holds
# the invitation. Every wait polls with a deadline; on failure the
# captured pane and the logs are printed.
#
# Environment (set by meson): FINCH, TMUX_BIN, RDT_TEST_SERVER_BIN,
# RDT_PLUGIN_DIR (dir of libreeeductio.so), RDT_KEYGEN, RDT_POST. RDT_FINCH_KEEP=1
# keeps the temp dir; RDT_FINCH_SCREEN=FILE saves the first screen there.
set -eu
# shellcheck source=scripts/purple-conf.sh
. "$(dirname "$0")/../../scripts/purple-conf.sh"

: "${FINCH:=finch}" "${TMUX_BIN:=tmux}"
: "${RDT_TEST_SERVER_BIN:?}" "${RDT_PLUGIN_DIR:?}" "${RDT_KEYGEN:?}" "${RDT_POST:?}"
TOPIC=general
COLS=180 LINES=50
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
    echo "not ok ${step:-1} finch: $*"
    echo "# ---- captured pane ----"
    tm capture-pane -p -t finch 2>/dev/null | sed 's/^/# /' || true
    for f in server.out server.err finch.err peer.err; do
        [ -s "$tmp/$f" ] && { echo "# ---- $f ----"; sed 's/^/# /' "$tmp/$f"; }
    done
    exit 1
}

# Poll until the pane no longer contains the fixed string $1.
wait_pane_gone() {
    end=$(( $(date +%s) + DEADLINE_S ))
    while [ "$(date +%s)" -lt "$end" ]; do
        tm capture-pane -p -t finch 2>/dev/null | grep -qF -- "$1" || return 0
        sleep 0.2
    done
    fail "timed out after ${DEADLINE_S}s waiting for '$1' to go from the Finch window"
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

echo "1..6"

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
rdt_finch_layout "$conf" "$COLS" "$LINES"

# A welcome line of 120 characters, posted by the owner before Finch starts.
welcome="Welcome-$$: messages in this space are end-to-end encrypted; the server stores and relays only ciphertext and signatures."
welcome=$(printf '%.120s' "$welcome")
RDT_SEED=$seed RDT_ROOT=$root "$RDT_POST" "$url" "$space" "$TOPIC" "$welcome" \
    2> "$tmp/peer.err" || fail "rdt-post could not post the welcome line"

# ---- Finch in tmux ----
# HOME is the temp dir: gnt's window positions (~/.gntpositions) of the
# user running the tests must not move the windows.
tm new-session -d -s finch -x "$COLS" -y "$LINES" \
    "HOME='$tmp' TERM=screen-256color exec '$FINCH' -c '$conf' 2> '$tmp/finch.err'" \
    || fail "cannot start tmux"
# Joined: Finch opened the chat window ("general (finch@S... -- reeeductio)"
# in its window list), which happens once the account signed on and the
# plugin joined the auto-join chat.
wait_pane "$TOPIC (finch@"

# ---- the first screen: the chat wide, beside the buddy list ----
# The whole welcome line on one screen line: neither wrapped in a narrow
# chat window nor covered by the buddy list.
wait_pane "$welcome"
screen=$(tm capture-pane -p -t finch)
[ -z "${RDT_FINCH_SCREEN:-}" ] || printf '%s\n' "$screen" > "$RDT_FINCH_SCREEN"
# The buddy list is still visible (its title on the top line), and the
# chat text starts right of it.
printf '%s\n' "$screen" | head -n1 | grep -qF "Buddy List" \
    || fail "the buddy list is not visible on the first screen"
col=$(printf '%s\n' "$screen" | grep -F -- "$welcome" | head -n1 \
    | awk -v w="$welcome" '{ print index($0, w) }')
[ "${col:-0}" -gt 30 ] || fail "the welcome line starts at column $col, under the buddy list"

# ---- the second client posts; Finch must show it ----
text="hello-from-peer-$$"
peer_nick=$(RDT_SEED=$seed RDT_ROOT=$root "$RDT_POST" --as-new-member "$url" \
    "$space" "$TOPIC" "$text" 2> "$tmp/peer.err") || fail "rdt-post could not post"
[ -n "$peer_nick" ] || fail "rdt-post printed no nick"
# A chat line from the peer (by its short id), not just the text anywhere.
wait_pane "$peer_nick: $text"
tm capture-pane -p -t finch | grep -F -- "$text" | sed 's/^/# shown: /'

echo "ok 1 finch shows the welcome line uncut beside the buddy list and a message posted by a second client"

# ---- the keys scripts/try-it.sh names, each used as it says ----
step=2
key() { tm send-keys -t finch "$@"; }
# The buddy list has the focus at first: Alt+n to the chat window, then
# type to post (our own line comes back under our short id).
key M-n
mine="typed-in-finch-$$"
key -l "$mine"
key Enter
owner_uid="U${space#S}"
wait_pane "$(printf '%.9s' "$owner_uid"): $mine"
# A reply and an edit, typed as a Finch user types them (issue #17): the
# reply quotes the start of its target, the edit says what it changed.
reply="a-reply-typed-in-finch-$$"
key -l "/reply last-mine $reply"
key Enter
wait_pane "$reply"
wait_pane "↳ $(printf '%.9s' "$owner_uid")"
edited="edited-in-finch-$$"
key -l "/edit last-mine $edited"
key Enter
wait_pane "edited ("
wait_pane "$edited"
# Alt+p back to the buddy list, whose menu Ctrl+o opens: Accounts, the
# account, its actions.
key M-p
open_actions() {
    key C-o
    wait_pane "Accounts"
    n=0
    until tm capture-pane -p -t finch | grep -qF -- "$user (f) >"; do
        n=$((n + 1))
        [ "$n" -le 4 ] || fail "Ctrl+o: no Accounts menu with the account"
        key Right
        sleep 0.3
    done
    key Right
    wait_pane "Show my member ID"
}
open_actions
# the action by its letter; Alt+c closes its window
key s
wait_pane "Your member ID:"
screen=$(tm capture-pane -p -t finch)
key M-c
wait_pane_gone "Your member ID:"
echo "ok 2 Alt+n, typing (a line, /reply and /edit), Alt+p, Ctrl+o Accounts and Alt+c do what try-it.sh says"

# ---- Show my member ID: the ids whole, the owner not sent to an admin ----
step=3
printf '%s\n' "$screen" | grep -qE "│$owner_uid +│" \
    || fail "the member ID is not shown whole on a line of its own"
printf '%s\n' "$screen" | grep -qE "│$space +│" \
    || fail "the space ID is not shown whole on a line of its own"
printf '%s\n' "$screen" | grep -qF "You own this space" \
    || fail "the owner is not told that they own the space"
! printf '%s\n' "$screen" | grep -qF "admin" \
    || fail "the owner is told to ask an admin"
echo "ok 3 Show my member ID shows both ids whole and tells the owner how to add members"

# ---- button labels without mnemonic underscores ----
step=4
open_actions
key e
wait_pane "Show the private key?"
screen=$(tm capture-pane -p -t finch)
printf '%s\n' "$screen" | grep -qF "│ Show │" || fail "no Show button"
printf '%s\n' "$screen" | grep -qF "│ Cancel │" || fail "no Cancel button"
! printf '%s\n' "$screen" | grep -qE "_(Show|Cancel)" || fail "a button label shows its underscore"
key M-c
wait_pane_gone "Show the private key?"
echo "ok 4 Export credentials asks with buttons Show and Cancel, no underscores"

# ---- Invite someone: the invitation in a file of mode 600, path shown ----
step=5
open_actions
key i
# The window opens when the server has answered, not on a key press: Finch
# then opens it behind the others, with its name in the task bar. Alt+n
# (next window) brings it up.
wait_taskbar() {
    end=$(( $(date +%s) + DEADLINE_S ))
    until tm capture-pane -p -t finch | tail -n1 | grep -qF -- "$1"; do
        [ "$(date +%s)" -lt "$end" ] || fail "no window '$1' in the task bar"
        sleep 0.2
    done
}
wait_taskbar "Invitation"
n=0
until tm capture-pane -p -t finch | grep -qF "Invitation created"; do
    n=$((n + 1))
    [ "$n" -le 4 ] || fail "Alt+n does not bring up the invitation window"
    key M-n
    sleep 0.3
done
wait_pane "invitation-"
path=$(tm capture-pane -p -t finch | sed -n 's|^[^/]*\(/[^ │]*invitation-[^ │]*\.txt\).*|\1|p' | head -n1)
[ -n "$path" ] || fail "the invitation window names no file"
case $path in "$conf"/*) ;; *) fail "the invitation file $path is not in the purple dir" ;; esac
[ -f "$path" ] || fail "the invitation file $path does not exist"
[ "$(stat -c %a "$path")" = 600 ] || fail "the invitation file has mode $(stat -c %a "$path")"
grep -qE '^rdt-invite:1:[A-Za-z0-9_-]+$' "$path" || fail "the invitation file holds no invitation"
key M-c
wait_pane_gone "Invitation created"
echo "ok 5 Invite someone saves the invitation in $path (mode 600) and shows the path"

# ---- Alt+q quits ----
step=6
key M-q
end=$(( $(date +%s) + DEADLINE_S ))
while tm has-session -t finch 2>/dev/null; do
    [ "$(date +%s)" -lt "$end" ] || fail "Alt+q did not quit Finch"
    sleep 0.2
done
echo "ok 6 Alt+q quits Finch"
