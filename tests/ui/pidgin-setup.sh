#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pidgin-setup.sh - the first-login dialog in the real Pidgin, on a virtual
# X display, answered from the keyboard as a person would.
#
#   tests/ui/pidgin-setup.sh OUTPUT.png
#
# Starts rdt-test-server (fresh data dir) and writes a throw-away Pidgin
# config dir whose reeeductio account has only a username ("pidgin": no
# password, no server, no space key), set to sign in, with an auto-joined
# chat on topic "general" (blist.xml). It starts Xvfb and `pidgin -d -c
# <confdir>` and waits (each wait with a deadline) for
#   1. the window "Set up your reeeductio account" (src/purple/setup.c);
#      its first radio button, "Join with an invitation", has the focus;
#   2. Down: "Create a new space"; Tab Tab: the Server URL field; the test
#      server's URL replaces the default; the dialog goes to OUTPUT.png;
#      Return is "Continue";
#   3. accounts.xml (Pidgin writes it some seconds after a change) to hold
#      the username "pidgin@<space id>", `server` = the URL, a space key
#      (`symmetric_root`) and a private key (the password), 64 hex each;
#   4. the chat window "general — <short space id>": the account logged in
#      to the new space, as its owner, and joined the topic.
# Last: neither key is in Pidgin's debug output, and the dialog is gone.
#
# Run by .ci/run (not by `meson test`: it needs pidgin, xvfb, xdotool and
# imagemagick: scripts/install-deps.sh --ui).
# Environment: BUILD_DIR (default build), RDT_UI_DEADLINE (seconds,
# default 60), RDT_UI_KEEP=1 keeps the temp dir. Exit status 0 on success,
# 77 (skip) when a tool is missing, 1 on failure (logs are printed).
set -euo pipefail

self=$(realpath "$0")
cd "$(dirname "$self")/../.."
out=${1:?usage: tests/ui/pidgin-setup.sh OUTPUT.png}
out=$(realpath -m "$out")
build=${BUILD_DIR:-build}
deadline=${RDT_UI_DEADLINE:-60}
topic=general
title="Set up your reeeductio account"

plugin=$build/src/purple/libreeeductio.so
# shellcheck source=tests/ui/lib.sh
. tests/ui/lib.sh
logs="server.err xvfb.err pidgin.err pidgin.out"
ui_init pidgin-setup pidgin Xvfb xdotool import -- "$plugin" "$build/server/rdt-test-server"

# ---- server ----
ui_start_server

# ---- Pidgin config dir: an account with a username only ----
conf=$tmp/pidgin
mkdir -p "$conf/plugins"
chmod 700 "$conf"
ln -s "$(realpath "$plugin")" "$conf/plugins/libreeeductio.so"
cat > "$conf/accounts.xml" <<EOF
<?xml version='1.0' encoding='UTF-8' ?>
<account version='1.0'>
 <account>
  <protocol>prpl-reeeductio</protocol>
  <name>pidgin</name>
  <settings ui='gtk-gaim'>
   <setting name='auto-login' type='bool'>1</setting>
  </settings>
 </account>
</account>
EOF
# The chat belongs to the account, not to its name: it follows the rename
# to "pidgin@<space id>" and is joined once the account is signed on.
cat > "$conf/blist.xml" <<EOF
<?xml version='1.0' encoding='UTF-8' ?>
<purple version='1.0'>
 <blist>
  <group name='Chats'>
   <chat proto='prpl-reeeductio' account='pidgin'>
    <component name='topic'>$topic</component>
    <setting name='gtk-autojoin' type='bool'>1</setting>
   </chat>
  </group>
 </blist>
</purple>
EOF

# ---- X display and Pidgin ----
# -d: the debug output, to check that no key is in it
ui_start_pidgin "$conf" -d

# ---- the dialog ----
dialogs() { xdotool search --onlyvisible --name "^$title\$" || true; }
wait_for "the window '$title'" eval 'dialogs | grep -q .'
[ "$(dialogs | wc -l)" = 1 ] || fail "more than one window '$title'"
dialog=$(dialogs)
# Without a window manager the buddy list opens at the origin too, over
# the dialog: keep it beside (the dialog is about 710 pixels wide).
blist_away() {
  local w
  for w in $(xdotool search --onlyvisible --name '^Buddy List$' || true); do
    xdotool getwindowgeometry "$w" | grep -q 'Position: 900,' ||
      xdotool windowmove --sync "$w" 900 0
  done
}
blist_away
xdotool windowmove --sync "$dialog" 0 0 windowraise "$dialog"
# The dialog opens with the focus on its first radio button ("Join with an
# invitation"); Down selects the next one, "Create a new space" (GTK's
# radio group); Tab goes on to the invitation field, Tab again to the
# Server URL field, which selects its text (the default server): Ctrl+A
# makes sure, and the URL typed replaces it.
xdotool windowfocus --sync "$dialog"
xdotool key --delay 50 Down Tab Tab ctrl+a
xdotool type --delay 10 -- "$url"
blist_away
xdotool windowraise "$dialog"
mkdir -p "$(dirname "$out")"
import -window "$dialog" "$out" || fail "import could not grab the dialog"
echo "ok: the dialog '$title', 'Create a new space' chosen, saved to $out"
# Return in a field is the dialog's default button, "Continue".
xdotool key --window "$dialog" Return
wait_for "the dialog to close" eval '! dialogs | grep -q .'

# ---- accounts.xml: what the dialog filled in ----
# libpurple saves accounts.xml a few seconds after a change.
setting() {
  sed -n "s|.*<setting name='$1' type='string'>\\(.*\\)</setting>.*|\\1|p" \
    "$conf/accounts.xml"
}
saved() {
  grep -qE "<name>pidgin@S[A-Za-z0-9_-]{43}</name>" "$conf/accounts.xml" &&
    [ "$(setting server)" = "$url" ] &&
    setting symmetric_root | grep -qxE '[0-9a-f]{64}' &&
    grep -qE '<password>[0-9a-f]{64}</password>' "$conf/accounts.xml"
}
wait_for "accounts.xml with the new space (name, server, symmetric_root, password)" saved
space=$(sed -n 's|.*<name>pidgin@\(S[A-Za-z0-9_-]*\)</name>.*|\1|p' "$conf/accounts.xml")
echo "ok: accounts.xml has pidgin@$space, server $url, a space key and a private key"

# ---- the account logs in to the new space and joins the topic ----
chat_title="$topic — ${space:0:9}"
chat_window() { xdotool search --onlyvisible --name "^$chat_title\$" | grep .; }
wait_for "the chat window '$chat_title'" chat_window
[ -z "$(dialogs)" ] || fail "the dialog '$title' opened again"
echo "ok: logged in to the new space, chat window '$chat_title'"

# ---- no key in the debug output ----
key=$(sed -n 's|.*<password>\(.*\)</password>.*|\1|p' "$conf/accounts.xml")
root=$(setting symmetric_root)
! grep -qF -e "$key" -e "$root" "$tmp/pidgin.out" "$tmp/pidgin.err" ||
  fail "a key is in Pidgin's debug output"
grep -qF "session $space: connected" "$tmp/pidgin.out" ||
  fail "the debug output does not say the session connected"
echo "ok: neither key is in Pidgin's debug output"
