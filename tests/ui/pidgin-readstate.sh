#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pidgin-readstate.sh - read state across two devices, in real Pidgin 2.14
# under Xvfb (issue #16).
#
#   tests/ui/pidgin-readstate.sh OUTPUT.png
#
# Bob posts three lines. Pidgin "one" (a config dir of its own) joins the
# topic; its chat window gets the focus, as when a person looks at it:
# Pidgin clears the chat's unseen state and the plugin stores the read
# marker in the space (its PUT to the data store shows in Pidgin's debug
# output). Pidgin one quits; Bob posts two more lines. Pidgin "two", a second
# device of the same member (another config dir, same key, no local state),
# joins: its chat log has Bob's two new lines, then "— 2 new messages since
# you last read —", and none of the three read on the first device; it
# posts no second "joined the space". The second chat window is saved to
# OUTPUT.png.
#
# Run by .ci/run (needs pidgin, xvfb, xdotool and imagemagick:
# scripts/install-deps.sh --ui). Environment: BUILD_DIR (default build),
# RDT_UI_DEADLINE (seconds, default 60), RDT_UI_KEEP=1 keeps the temp dir.
# Exit status 0 on success, 77 (skip) when a tool is missing, 1 on failure.
set -euo pipefail
# shellcheck source=scripts/purple-conf.sh
. "$(dirname "$0")/../../scripts/purple-conf.sh"

self=$(realpath "$0")
cd "$(dirname "$self")/../.."
out=${1:?usage: tests/ui/pidgin-readstate.sh OUTPUT.png}
out=$(realpath -m "$out")
build=${BUILD_DIR:-build}
deadline=${RDT_UI_DEADLINE:-60}
topic=general
read1="Bob's first line, read on the first device."
read2="Bob's second line, read on the first device."
read3="Bob's third line, read on the first device."
new1="Bob's line while both devices were away."
new2="Bob's last line, unread until the second device."
divider="— 2 new messages since you last read —"

plugin=$build/src/purple/libreeeductio.so
keygen=$build/tools/rdt-keygen
post=$build/tools/rdt-post
# shellcheck source=tests/ui/lib.sh
. tests/ui/lib.sh
logs="server.err post.err xvfb.err pidgin.err"
ui_init pidgin-readstate pidgin Xvfb xdotool import -- "$plugin" \
  "$build/server/rdt-test-server" "$keygen" "$post"

ui_start_server
umask 077
read -r space _owner seed < <("$keygen" key)
root=$("$keygen" root)
"$keygen" key | cut -d' ' -f3 > "$tmp/bob.seed"
umask 022
user="pidgin@$space"
bob() {
  RDT_ROOT=$root "$post" --key "$tmp/bob.seed" "$url" "$space" "$topic" \
    "$@" > /dev/null 2> "$tmp/post.err"
}
RDT_SEED=$seed bob --as-new-member --name Bob || fail "rdt-post could not add Bob"
for line in "$read1" "$read2" "$read3"; do
  bob "$line" || fail "rdt-post could not post Bob's line"
done

# Two Pidgin config dirs: the same account (same key) on both devices.
ui_pidgin_conf "$tmp/one" "$user" "$seed" "$url" "$root" "$topic" Alice
ui_pidgin_conf "$tmp/two" "$user" "$seed" "$url" "$root" "$topic" Alice

chat_window() { xdotool search --onlyvisible --name "^$topic( |\$)" | head -n1 | grep .; }
log_has() { grep -rqF -- "$2" "$tmp/$1/logs"; }

# ---- the first device reads ----
ui_start_pidgin "$tmp/one" -d
wait_for "the chat window on the first device" chat_window
wait_for "Bob's third line on the first device" log_has one "$read3"
# what a person does: look at the chat (no window manager: focus it)
xdotool windowfocus --sync "$(chat_window)"
stored() { grep -qF "PUT /spaces/$space/data/data/user/" "$tmp/pidgin.err" "$tmp/pidgin.out"; }
wait_for "the read marker stored in the space" stored
echo "ok: looking at the chat in Pidgin stored the read marker in the space"
ui_stop "$pidgin_pid"
pidgin_pid=''

# ---- while both are away ----
bob "$new1" || fail "rdt-post could not post Bob's line"
bob "$new2" || fail "rdt-post could not post Bob's line"

# ---- the second device: same member, nothing of its own ----
pidgin -c "$tmp/two" > "$tmp/pidgin.out" 2> "$tmp/pidgin.err" &
pidgin_pid=$!
wait_for "the chat window on the second device" chat_window
wait_for "the divider on the second device" log_has two "$divider"
seed='' root=''
for line in "$new1" "$new2"; do
  n=$(grep -rhF -- "$line" "$tmp/two/logs" | wc -l)
  [ "$n" = 1 ] || fail "the second device's log has '$line' $n times (want 1)"
done
for line in "$read1" "$read2" "$read3"; do
  ! log_has two "$line" || fail "the second device shows '$line', read on the first"
done
# in this order: the two new lines, then the divider
order=$(grep -rhF -e "$new1" -e "$new2" -e "$divider" "$tmp/two/logs" \
          | sed -e "s/.*$new1.*/1/" -e "s/.*$new2.*/2/" -e "s/.*$divider.*/d/" | tr -d '\n')
[ "$order" = 12d ] || fail "the second device's log has them in the order '$order' (want 12d)"
# the member joined once, from the first device: the second posts no join
n=$(grep -rhF -- "joined the space" "$tmp/one/logs" "$tmp/two/logs" | wc -l)
[ "$n" = 1 ] || fail "the logs have $n 'joined the space' lines (want 1, the first device's)"
echo "ok: the second device shows the 2 unread lines, then '$divider', and none of the 3 read; no second join"

chat=$(chat_window)
xdotool windowmove "$chat" 0 0 windowsize "$chat" 880 540 windowraise "$chat"
chat_placed() { xdotool getwindowgeometry "$chat" | grep -q 'Geometry: 880x540'; }
wait_for "the chat window to be resized" chat_placed
for w in $(xdotool search --onlyvisible --name '^Buddy List$' || true); do
  xdotool windowunmap --sync "$w"
done
mkdir -p "$(dirname "$out")"
import -window "$chat" "$out" || fail "import could not grab the screen"
echo "ok: the second device's chat window saved to $out"
