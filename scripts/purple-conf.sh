# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
# purple-conf.sh - sourced by the scripts that start a libpurple client
# (scripts/try-it.sh, tests/finch/run.sh, tests/ui/pidgin-screenshot.sh):
# writes a throw-away libpurple config dir with one reeeductio account that
# signs in by itself and one auto-joined chat.
#
#   rdt_purple_conf DIR UI USER SEED SERVER_URL ROOT TOPIC [ALIAS]
#
# UI is "finch" or "pidgin" (their setting names differ). The seed and
# root end up in DIR/accounts.xml only, mode 600.
#
#   rdt_finch_layout DIR COLS LINES
#
# then lays Finch's windows out for a terminal of COLS x LINES (prefs.xml).

rdt_purple_conf() {
  _dir=$1 _ui=$2 _user=$3 _seed=$4 _url=$5 _root=$6 _topic=$7 _alias=${8:-}
  case $_ui in
    finch)  _uiname=gnt-purple _autojoin=gnt-autojoin ;;
    pidgin) _uiname=gtk-gaim   _autojoin=gtk-autojoin ;;
    *) echo "rdt_purple_conf: unknown UI $_ui" >&2; return 1 ;;
  esac
  mkdir -p "$_dir"
  chmod 700 "$_dir"
  _alias_line=
  [ -n "$_alias" ] && _alias_line="
  <alias>$_alias</alias>"
  (umask 077; cat > "$_dir/accounts.xml" <<EOF
<?xml version='1.0' encoding='UTF-8' ?>
<account version='1.0'>
 <account>
  <protocol>prpl-reeeductio</protocol>
  <name>$_user</name>
  <password>$_seed</password>$_alias_line
  <settings>
   <setting name='server' type='string'>$_url</setting>
   <setting name='symmetric_root' type='string'>$_root</setting>
  </settings>
  <settings ui='$_uiname'>
   <setting name='auto-login' type='bool'>1</setting>
  </settings>
 </account>
</account>
EOF
)
  cat > "$_dir/blist.xml" <<EOF
<?xml version='1.0' encoding='UTF-8' ?>
<purple version='1.0'>
 <blist>
  <group name='Chats'>
   <chat proto='prpl-reeeductio' account='$_user'>
    <component name='topic'>$_topic</component>
    <setting name='$_autojoin' type='bool'>1</setting>
   </chat>
  </group>
 </blist>
</purple>
EOF
  unset _dir _ui _user _seed _url _root _topic _alias _alias_line _uiname _autojoin
}

# rdt_finch_layout DIR COLS LINES - Finch's window layout for a terminal of
# COLS x LINES, in DIR/prefs.xml (Finch's defaults are a 70x20 chat under
# the buddy list, which cuts the lines): the buddy list a narrow column at
# the left, the conversation window filling the rest. The bottom line is
# Finch's window list. Finch saves the sizes back when windows are resized.
rdt_finch_layout() {
  _dir=$1 _cols=$2 _lines=$3
  case $_cols$_lines in ''|*[!0-9]*)
    echo "rdt_finch_layout: COLS and LINES must be numbers" >&2; return 1 ;;
  esac
  # 30 columns hold the account and the chat names; on a small terminal
  # the chat keeps at least 60 columns.
  _bw=30
  [ $((_cols - _bw)) -ge 60 ] || _bw=$((_cols / 3))
  _h=$((_lines - 1))
  # Finch's sizes leave out the window borders (2 each way); the blist's
  # is its tree's, above the status selector (3) and status message (1).
  cat > "$_dir/prefs.xml" <<EOF
<?xml version='1.0' encoding='UTF-8' ?>
<pref version='1' name='/'>
 <pref name='finch'>
  <pref name='blist'>
   <pref name='size'>
    <pref name='width' type='int' value='$((_bw - 2))'/>
    <pref name='height' type='int' value='$((_h - 6))'/>
   </pref>
   <pref name='position'>
    <pref name='x' type='int' value='0'/>
    <pref name='y' type='int' value='0'/>
   </pref>
  </pref>
  <pref name='conversations'>
   <pref name='size'>
    <pref name='width' type='int' value='$((_cols - _bw - 2))'/>
    <pref name='height' type='int' value='$((_h - 2))'/>
   </pref>
   <pref name='position'>
    <pref name='x' type='int' value='$_bw'/>
    <pref name='y' type='int' value='0'/>
   </pref>
  </pref>
 </pref>
</pref>
EOF
  unset _dir _cols _lines _bw _h
}
