#!/usr/bin/env bash
# Install the Debian (bookworm) packages needed to build and test
# purple-reeeductio. Runs apt-get directly as root, through sudo otherwise.
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config gettext
  libglib2.0-dev libsodium-dev libsoup-3.0-dev libjson-glib-dev nettle-dev
  libpurple-dev
  # end-to-end tests and the demo
  finch tmux
  # data checks
  appstream
)

if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"
