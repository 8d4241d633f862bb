#!/usr/bin/env bash
# Runs a command with a real, throw-away OS keychain, for tests and CI on headless Linux.
#
#   scripts/with-keychain.sh secret-service <cmd…>
#       Starts a private D-Bus session (dbus-run-session) with gnome-keyring-daemon unlocked
#       by a fixed password, its data in a temporary folder (never the user's own keyring).
#   scripts/with-keychain.sh keyutils <cmd…>
#       Runs the command in a fresh anonymous kernel session keyring (keyctl session -).
#
# Exports OUTPOST_TEST_KEYCHAIN=<backend> for the command and exits with its exit code.
# Needs the packages dbus, gnome-keyring (secret-service) or keyutils (see install-deps.sh).
set -euo pipefail

usage() {
  echo "usage: $0 secret-service|keyutils <command> [args…]" >&2
  exit 2
}

[ $# -ge 2 ] || usage
backend=$1
shift

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "$0: '$1' not found; install it with scripts/install-deps.sh" >&2
    exit 127
  }
}

case "$backend" in
  secret-service)
    need dbus-run-session
    need gnome-keyring-daemon
    need dbus-send
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/outpost-keychain.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    mkdir -m 700 -p "$tmp/home" "$tmp/data" "$tmp/config" "$tmp/cache" "$tmp/runtime"
    # The inner script runs inside the private bus: it starts the daemon in the foreground
    # (so it stays our child and is stopped and reaped afterwards — a daemonised
    # gnome-keyring-daemon outlives the bus), unlocks it with a fixed password (which also
    # creates the "login" default collection), waits until it owns org.freedesktop.secrets,
    # runs the command and passes its exit code on.
    # shellcheck disable=SC2016
    inner='
      set -u
      printf %s outpost-test | gnome-keyring-daemon --foreground --unlock --components=secrets \
        >"$XDG_RUNTIME_DIR/gnome-keyring.log" 2>&1 &
      daemon=$!
      trap '"'"'kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null'"'"' EXIT
      ready=
      for _ in $(seq 1 100); do
        if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
             org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null \
             | grep -q "boolean true"; then ready=1; break; fi
        kill -0 "$daemon" 2>/dev/null || break
        sleep 0.1
      done
      if [ -z "$ready" ]; then
        echo "with-keychain: gnome-keyring-daemon did not register on the session bus:" >&2
        cat "$XDG_RUNTIME_DIR/gnome-keyring.log" >&2
        exit 125
      fi
      export GNOME_KEYRING_CONTROL="$XDG_RUNTIME_DIR/keyring"
      "$@"
    '
    set +e
    env -u DISPLAY -u WAYLAND_DISPLAY -u GNOME_KEYRING_CONTROL -u SSH_AUTH_SOCK \
      HOME="$tmp/home" \
      XDG_DATA_HOME="$tmp/data" \
      XDG_CONFIG_HOME="$tmp/config" \
      XDG_CACHE_HOME="$tmp/cache" \
      XDG_RUNTIME_DIR="$tmp/runtime" \
      CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" \
      RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
      OUTPOST_TEST_KEYCHAIN=secret-service \
      dbus-run-session -- bash -c "$inner" with-keychain "$@"
    status=$?
    set -e
    exit "$status"
    ;;
  keyutils)
    need keyctl
    # keyctl reports a missing program as a plain failure (1); make it the shell's 127.
    command -v "$1" >/dev/null 2>&1 || { echo "$0: $1: command not found" >&2; exit 127; }
    # `keyctl session - cmd…` joins a new anonymous session keyring and runs cmd in it; it
    # exits with the command's status. No D-Bus session is passed on, so the Secret Service
    # cannot be used by accident.
    set +e
    env -u DBUS_SESSION_BUS_ADDRESS -u DISPLAY -u WAYLAND_DISPLAY \
      OUTPOST_TEST_KEYCHAIN=keyutils \
      keyctl session - "$@"
    status=$?
    set -e
    exit "$status"
    ;;
  *)
    usage
    ;;
esac
