#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install the Debian (bookworm) packages needed to build and test
# purple-reeeductio. Runs apt-get directly as root, through sudo otherwise.
#   --ui   also the UI checks of tests/ui/ (Pidgin under Xvfb, run by
#          .ci/run; BitlBee)
#   --deb  also what `dpkg-buildpackage` and lintian need (docs/debian.md)
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config gettext
  libglib2.0-dev libsodium-dev libsoup-3.0-dev libjson-glib-dev nettle-dev
  libpurple-dev libsecret-1-dev
  # keystore tests: a private session bus with a real Secret Service
  dbus-daemon gnome-keyring libglib2.0-bin
  # end-to-end tests and the demo
  finch tmux
  # data checks
  appstream
)

for arg in "$@"; do
  case $arg in
    --ui) packages+=(pidgin xvfb xauth xdotool imagemagick bitlbee-libpurple python3) ;;
    --deb) packages+=(debhelper devscripts lintian fakeroot dpkg-dev) ;;
    *) echo "install-deps.sh: unknown option $arg (known: --ui, --deb)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"
