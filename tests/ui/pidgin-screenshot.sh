#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pidgin-screenshot.sh - Pidgin with the plugin, joined to a topic of the
# local test server, on a virtual X display; saves a screenshot.
#
#   tests/ui/pidgin-screenshot.sh OUTPUT.png
#
# Starts rdt-test-server (fresh data dir), makes a new space with
# rdt-keygen, posts two lines as the owner with rdt-post, writes a throw-away
# Pidgin config dir (accounts.xml with the account set to sign in,
# blist.xml with an auto-joined chat for topic "general", prefs.xml with
# chat logging on, plugins/ with a symlink to the plugin of the build dir),
# starts Xvfb and `pidgin -c <confdir>`, and waits (with a deadline) until
#   1. a window named "general" exists (xdotool): the chat is joined, and
#   2. Pidgin's chat log holds the welcome text: the backlog was verified,
#      decrypted and shown.
# Then it types "/nick Alice" (the owner's display name) into the chat;
# a second member, added by the owner, sets its display name "Bob"
# (rdt-post --as-new-member --key FILE --name Bob), and once the chat shows
# the name, posts (rdt-post --key FILE); Alice answers;
# Bob posts a line and a small PNG (rdt-post --key FILE --image, shown
# inline: the script waits until its colour is on screen); "/chain" (the
# topic's verified hash chain) and a last line from Alice; it waits for each
# in the chat log and saves the chat window to OUTPUT.png (ImageMagick
# `import`).
# Then it asserts what can be read without eyes: in Pidgin's chat log, each line
# once and from its sender; after "/invite", one window "Invitation" (the
# visible window titles go to OUTPUT-windows.txt), the invitation in a file
# of mode 600 in the config dir and not in the log; the invitation window
# is saved to OUTPUT-invitation.png. Last, Get Info on Bob from the chat's
# user list (its context menu, opened from the keyboard): exactly one window
# "Buddy Information" (Pidgin's own, answered under the name it opened it
# with), filled in (more than the one line of "Retrieving..."), saved to
# OUTPUT-info.png; the visible window titles then go to OUTPUT-windows.txt.
#
# Run by .ci/run (not by `meson test`: it needs pidgin, xvfb, xdotool and
# imagemagick: scripts/install-deps.sh --ui).
# Environment: BUILD_DIR (default build), RDT_UI_DEADLINE (seconds,
# default 60), RDT_UI_KEEP=1 keeps the temp dir. Exit status 0 on success,
# 77 (skip) when a tool is missing, 1 on failure (logs are printed).
set -euo pipefail
# shellcheck source=scripts/purple-conf.sh
. "$(dirname "$0")/../../scripts/purple-conf.sh"

self=$(realpath "$0")
cd "$(dirname "$self")/../.."
out=${1:?usage: tests/ui/pidgin-screenshot.sh OUTPUT.png}
out=$(realpath -m "$out")
build=${BUILD_DIR:-build}
deadline=${RDT_UI_DEADLINE:-60}
topic=general
welcome="Welcome to topic $topic! Everything here is end-to-end encrypted and signed."
second="The server only stores ciphertext; each message is chained to the one before."
hello="Hi Alice! Bob here, just joined. My client verified the whole history."
ask="Welcome, Bob! Did you bring the sketch from this morning?"
here="Here it is, encrypted before it left my machine:"
thanks="Got it, thanks! The server only ever saw ciphertext."
# The sketch's orange: the script knows the image is shown once the chat
# window has pixels of it (grep reads all of the list: no SIGPIPE under
# pipefail).
mark=E8590C

plugin=$build/src/purple/libreeeductio.so
keygen=$build/tools/rdt-keygen
post=$build/tools/rdt-post
# shellcheck source=tests/ui/lib.sh
. tests/ui/lib.sh
logs="server.err post.err xvfb.err pidgin.err"
ui_init pidgin pidgin Xvfb xdotool import convert -- "$plugin" "$build/server/rdt-test-server" "$keygen" "$post"

# ---- server, space, welcome message ----
ui_start_server

umask 077
read -r space _owner seed < <("$keygen" key)
root=$("$keygen" root)
user="pidgin@$space"
for line in "$welcome" "$second"; do
  RDT_SEED=$seed RDT_ROOT=$root "$post" "$url" "$space" "$topic" "$line" \
    2> "$tmp/post.err" || fail "rdt-post could not post the welcome message"
done

# ---- Pidgin config dir ----
conf=$tmp/pidgin
# Chat logs in plain text: the script's proof that the backlog was shown.
ui_pidgin_conf "$conf" "$user" "$seed" "$url" "$root" "$topic" Alice
umask 022

# ---- X display and Pidgin ----
ui_start_pidgin "$conf"

# the title is "general — <space name or short id>" once the state is read
chat_window() { xdotool search --onlyvisible --name "^$topic( |\$)" | head -n1 | grep .; }
wait_for "the chat window '$topic'" chat_window
log_has_welcome() { grep -rqF -- "$welcome" "$conf/logs"; }
wait_for "the welcome message in Pidgin's chat log" log_has_welcome

# Give the chat window a fixed size at the origin and wait until X reports
# it.
chat=$(chat_window)
xdotool windowmove "$chat" 0 0 windowsize "$chat" 880 540 windowraise "$chat"
chat_placed() { xdotool getwindowgeometry "$chat" | grep -q 'Geometry: 880x540'; }
wait_for "the chat window to be resized" chat_placed

# Without a window manager the buddy list sits at the origin too, and it
# shows up over the chat when the roster changes: keep it beside the chat
# (the screen is wide enough).
blist_away() {
  local w
  for w in $(xdotool search --onlyvisible --name '^Buddy List$' || true); do
    xdotool getwindowgeometry "$w" | grep -q 'Position: 900,' ||
      xdotool windowmove --sync "$w" 900 0
  done
}

# Commands typed into the chat's entry (no window manager: focus it first).
type_line() {
  xdotool windowfocus --sync "$chat" type --delay 20 -- "$1"
  xdotool key --window "$chat" Return
}
log_has() { grep -rqF -- "$1" "$conf/logs"; }
type_line "/nick Alice"
# Bob: a key of its own (in a file, mode 600, as rdt-post wants it), made a
# member by the owner, with a display name; posts several lines.
umask 077
"$keygen" key | cut -d' ' -f3 > "$tmp/bob.seed"
umask 022
convert -size 160x100 xc:'#fff8e1' \
  -fill "#$mark" -draw 'circle 45,50 45,18' \
  -fill '#1971c2' -draw 'rectangle 90,22 145,78' \
  -fill '#2f9e44' -draw 'polygon 55,92 75,62 95,92' \
  "$tmp/sketch.png" || fail "convert could not draw the sketch"
bob() {
  RDT_ROOT=$root "$post" --key "$tmp/bob.seed" "$url" "$space" "$topic" \
    "$@" > /dev/null 2> "$tmp/post.err"
}
RDT_SEED=$seed bob --as-new-member --name Bob || fail "rdt-post could not add Bob"
# The plugin shows the name once it has read the profile ("... is now
# known as Bob"), so Bob's lines come under it.
wait_for "Bob's display name in the chat log" log_has "Bob"
bob "$hello" || fail "rdt-post could not post Bob's first line"
wait_for "Bob's first message in the chat log" log_has "Bob: $hello"
type_line "$ask"
wait_for "Alice's question in the chat log" log_has "Alice: $ask"
bob "$here" || fail "rdt-post could not post Bob's line"
bob --image "$tmp/sketch.png" || fail "rdt-post could not post Bob's image"
seed=''
# The image is downloaded, decrypted and shown (not logged): wait for its
# colour in the window.
image_shown() {
  blist_away
  import -window "$chat" "$tmp/probe.png" &&
    convert "$tmp/probe.png" -unique-colors txt:- | grep -i "#$mark" >/dev/null
}
wait_for "Bob's image in the chat window" image_shown
root=''
# /chain's answer is not logged; Alice's next line is, once sent, and Pidgin
# handles typed lines in order.
type_line "/chain"
type_line "$thanks"
wait_for "Alice's answer in the chat log" log_has "Alice: $thanks"

# The image is still in view, nothing over it.
wait_for "Bob's image in the final chat window" image_shown
mkdir -p "$(dirname "$out")"
# Without a window manager the buddy list may come back over the chat at
# the origin at any moment: unmapped, it cannot.
for w in $(xdotool search --onlyvisible --name '^Buddy List$' || true); do
  xdotool windowunmap --sync "$w"
done
import -window "$chat" "$out" || fail "import could not grab the screen"
echo "ok: screenshot of Pidgin in topic '$topic' saved to $out"

# ---- what the chat log says: who each line is from, each line once ----
# The log is libpurple's own, as Pidgin wrote it: "(time) who: text".
log_line_from() {
  local n
  n=$(grep -rhF -- ") $1: $2" "$conf/logs" | wc -l)
  [ "$n" = 1 ] || fail "the chat log has $n lines from '$1' saying '$2' (want 1)"
}
log_line_from Alice "$welcome"
log_line_from Alice "$second"
log_line_from Bob "$hello"
log_line_from Alice "$ask"
log_line_from Bob "$here"
log_line_from Alice "$thanks"
echo "ok: the chat log has each line once, from its sender"

# ---- /invite: one window "Invitation", a file of mode 600, no secret in
# the log ----
titles() { xdotool search --onlyvisible --name '.' getwindowname %@ 2>/dev/null | sort; }
invitation_window() { xdotool search --onlyvisible --name '^Invitation$' | grep .; }
type_line "/invite"
wait_for "the invitation window" invitation_window
[ "$(invitation_window | wc -l)" = 1 ] || fail "more than one invitation window: $(titles | tr '\n' ',')"
# one chat window, titled with the topic and the space's short id (the
# space has no name): two spaces' "general" can be told apart
chat_title="$topic — ${space:0:9}"
[ "$(titles | grep -cxF -- "$chat_title")" = 1 ] \
  || fail "not one chat window '$chat_title': $(titles | tr '\n' ',')"
titles > "${out%.png}-windows.txt"
saved=$(find "$conf/reeeductio" -name 'invitation-*.txt' 2>/dev/null || true)
[ "$(printf '%s\n' "$saved" | grep -c .)" = 1 ] || fail "not one invitation file: $saved"
[ "$(stat -c %a "$saved")" = 600 ] || fail "the invitation file has mode $(stat -c %a "$saved")"
grep -qE '^rdt-invite:1:[A-Za-z0-9_-]+$' "$saved" || fail "the invitation file holds no invitation"
# the notice of /invite is not logged: a line typed after it is, once the
# invitation was handled (Pidgin handles typed lines in order)
after="Invitation sent by other means."
type_line "$after"
wait_for "Alice's line after /invite in the chat log" log_has "Alice: $after"
! grep -rqF "rdt-invite:" "$conf/logs" || fail "the invitation is in the chat log"
win=$(invitation_window)
xdotool windowmove "$win" 0 0 windowraise "$win"
import -window "$win" "${out%.png}-invitation.png" || fail "import could not grab the invitation window"
echo "ok: /invite opens one window 'Invitation' and saves the invitation in a file of mode 600; screenshot ${out%.png}-invitation.png"

# ---- Get Info on Bob from the chat's user list: one window, filled in ----
info_windows() { xdotool search --onlyvisible --name '^Buddy Information$' || true; }
[ -z "$(info_windows)" ] || fail "an info window is open before Get Info: $(titles | tr '\n' ',')"
for w in $(xdotool search --onlyvisible --name '^Buddy List$' || true); do
  xdotool windowunmap --sync "$w"
done
# Pidgin's chats have no Get Info in their menu: it is in the user list's
# context menu. A click on the list's first row (the chat is 880x540, the
# list its right-hand column) focuses the list, typing selects the row
# starting with "Bob" (GTK's type-ahead), Escape ends the search and
# Shift+F10 opens the menu for the selected member: IM, Ignore, Info, ...
xdotool windowraise "$chat" windowfocus --sync "$chat"
xdotool mousemove --window "$chat" 832 110 click 1
xdotool type --delay 20 Bob
xdotool key Escape
before=$(xdotool search --onlyvisible --pid "$pidgin_pid" | sort)
# The menu: a new window of Pidgin's, on screen, four items high (not the
# type-ahead's one-line entry, should it still be there).
menu_open() {
  local w
  for w in $(xdotool search --onlyvisible --pid "$pidgin_pid" | sort |
               comm -13 <(printf '%s\n' "$before") -); do
    xdotool getwindowgeometry "$w" | tr '\n' ' ' |
      grep -qE 'Position: [0-9]+,[0-9]+ .*Geometry: [0-9]+x([6-9][0-9]|[0-9]{3})' && return 0
  done
  return 1
}
xdotool key shift+F10
wait_for "the user list's context menu" menu_open
xdotool key Down Down Down Return
has_info_window() { info_windows | grep -q .; }
wait_for "the info window" has_info_window
# Pidgin opens its window ("Retrieving...") and asks the plugin in one go:
# an answer under another name would be a second window by now.
n=$(info_windows | wc -l)
[ "$n" = 1 ] || fail "Get Info opened $n windows 'Buddy Information' (want 1): the answer came under another name than Pidgin's window ($(titles | tr '\n' ','))"
info=$(info_windows)
# Filled in: more than one line of text in the middle of the window (the
# "Retrieving..." window has a single line at the top of its text area).
text_rows() {
  local w h
  read -r w h < <(identify -format '%w %h' "$1")
  convert "$1" -crop "$((w * 80 / 100))x$((h * 50 / 100))+$((w * 5 / 100))+$((h * 30 / 100))" \
    +repage -colorspace gray -threshold 50% -scale '1x!' txt:- |
    grep -v '^#' | grep -vc FFFFFF || true
}
info_filled() {
  blist_away
  xdotool windowmove "$info" 0 0 windowraise "$info"
  import -window "$info" "$tmp/info.png" && [ "$(text_rows "$tmp/info.png")" -ge 30 ]
}
wait_for "the info window to be filled in (it still says 'Retrieving...')" info_filled
n=$(info_windows | wc -l)
[ "$n" = 1 ] || fail "Get Info opened $n windows 'Buddy Information' (want 1) ($(titles | tr '\n' ','))"
cp "$tmp/info.png" "${out%.png}-info.png"
titles > "${out%.png}-windows.txt"
echo "ok: Get Info on Bob opens one window, filled in; screenshot ${out%.png}-info.png"
