#!/usr/bin/env bash
# Installs every system package Outpost's build and tests need on a fresh Debian 12 machine.
# Idempotent: packages already present are skipped quickly.
set -euo pipefail
PKGS=(build-essential pkg-config libssl-dev libdbus-1-dev dbus dbus-x11 keyutils gnome-keyring
      libsecret-1-dev
      # the desktop app (Tauri 2 / WebKitGTK), its tray and notifications, and their tests
      libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
      webkit2gtk-driver xvfb xauth xdotool imagemagick dunst libnotify-bin chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
