#!/usr/bin/env bash
# Installs what Outpost needs, builds it, and starts it: the desktop app when a display is
# available, else the headless agent (the dispatcher without a window). Extra arguments go
# to the program (for example --background to start the app in the tray only).
#
# Secrets live in the OS keychain. On a machine with no keychain service running (a server,
# a container), this script chooses the encrypted file store explicitly and says so; set
# OUTPOST_SECRET_STORE=keychain to refuse that and get an error instead.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
. ./scripts/env.sh

if [ -z "${OUTPOST_SECRET_STORE:-}" ]; then
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
       org.freedesktop.DBus.ListActivatableNames 2>/dev/null | grep -q org.freedesktop.secrets \
     || dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
       org.freedesktop.DBus.ListNames 2>/dev/null | grep -q org.freedesktop.secrets; then
    export OUTPOST_SECRET_STORE=keychain
  else
    export OUTPOST_SECRET_STORE=file
    KEY_FILE="${OUTPOST_SECRETS_KEY_FILE:-${XDG_CONFIG_HOME:-$HOME/.config}/outpost/secrets.key}"
    if [ -z "${OUTPOST_SECRETS_KEY:-}" ] && [ ! -s "$KEY_FILE" ]; then
      mkdir -p "$(dirname "$KEY_FILE")"
      (umask 077; head -c 32 /dev/urandom | base64 > "$KEY_FILE")
      echo "outpost: created the key file $KEY_FILE (keep it safe: it opens your stored secrets)" >&2
    fi
    export OUTPOST_SECRETS_KEY_FILE="$KEY_FILE"
    echo "outpost: no OS keychain is running here, so secrets go to the encrypted file" \
         "store (OUTPOST_SECRET_STORE=file, key in $KEY_FILE)" >&2
  fi
fi

cargo build --release --locked -p outpost-cli
CLI="$PWD/target/release/outpost"
echo "outpost: data in ${OUTPOST_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/outpost}" >&2
echo "outpost: command line: $CLI (e.g. $CLI status)" >&2

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  (cd ui && npm ci --no-audit --no-fund && npm run build)
  cargo build --release --locked -p outpost-app --features custom-protocol
  exec "$PWD/target/release/outpost-app" "$@"
fi
echo "outpost: no display: starting the headless agent. Connect an account with:" >&2
echo "  $CLI accounts add bluesky --handle YOU.bsky.social --app-password-stdin" >&2
exec "$CLI" agent "$@"
