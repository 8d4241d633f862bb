#!/usr/bin/env bash
# A real OAuth 2.0 authorisation server on loopback for outpost-auth's connect-flow tests:
# oidc-provider (npm, panva; OpenID-certified) with the launcher and configuration in
# tools/oauth-server/server.mjs (clients, PKCE, refresh-token rotation, revocation, a
# two-button login/consent page a test can post to).
#
#   scripts/oauth-test-server.sh install           # npm ci into .tools/oauth-server (once; ~2 s)
#   cargo test -p outpost-auth --test oauth_flow   # starts its own server on a free port
#
#   eval "$(scripts/oauth-test-server.sh start)"   # or: one shared server, exported as
#   cargo test -p outpost-auth --test oauth_flow   #   OUTPOST_TEST_OAUTH_ISSUER
#   scripts/oauth-test-server.sh stop
#
# install is idempotent and fast when nothing changed: it copies package.json, the committed
# package-lock.json and server.mjs into .tools/oauth-server (gitignored) and runs `npm ci` only
# when the lockfile differs from the one last installed. Needs node >= 20 and npm.
# The tests find the installed server at .tools/oauth-server/server.mjs and start it with
# `node server.mjs --port 0 --exit-with-stdin`, reading its "ready <issuer>" line; without it
# they print "skipped" — or fail with OUTPOST_TEST_OAUTH_REQUIRED=1 (CI).
# Only 127.0.0.1 is used. `start` prints `export` lines (also saved in .tools/oauth-server/env);
# `stop` ends only the process this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

SRC=tools/oauth-server
DIR=.tools/oauth-server

install() {
  command -v node >/dev/null || { echo "oauth-test-server: node is not installed (Node 20 or later is needed)" >&2; exit 1; }
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 20 ]; then
    echo "oauth-test-server: node $(node --version) is too old; oidc-provider 9 needs Node 20 or later" >&2
    exit 1
  fi
  mkdir -p "$DIR"
  for f in package.json package-lock.json server.mjs; do
    cmp -s "$SRC/$f" "$DIR/$f" || cp "$SRC/$f" "$DIR/$f"
  done
  local want have=""
  want=$(sha256sum "$SRC/package-lock.json" | cut -d' ' -f1)
  [ -f "$DIR/.installed" ] && have=$(cat "$DIR/.installed")
  if [ "$want" != "$have" ] || [ ! -f "$DIR/node_modules/oidc-provider/package.json" ]; then
    echo "oauth-test-server: installing oidc-provider into $DIR (npm ci)" >&2
    rm -f "$DIR/.installed"
    (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$DIR/.installed"
  fi
}

stop() {
  local pidfile="$DIR/server.pid"
  if [ -f "$pidfile" ]; then
    local pid
    pid=$(cat "$pidfile")
    # Only our own process: check its command line before signalling it.
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "oauth-server/server.mjs"; then
      kill "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  fi
}

case "${1:-}" in
  install)
    install
    echo "oauth-test-server: installed in $DIR ($(node -p "require('./$DIR/node_modules/oidc-provider/package.json').version" 2>/dev/null || echo '?'))" >&2
    ;;
  start)
    install
    stop
    rm -f "$DIR/server.out"
    node "$DIR/server.mjs" --port "${2:-0}" >"$DIR/server.out" 2>"$DIR/server.log" &
    echo $! >"$DIR/server.pid"
    issuer=""
    for _ in $(seq 1 100); do
      issuer=$(sed -n 's/^ready //p' "$DIR/server.out" 2>/dev/null | head -n1)
      [ -n "$issuer" ] && break
      if ! kill -0 "$(cat "$DIR/server.pid")" 2>/dev/null; then break; fi
      sleep 0.1
    done
    if [ -z "$issuer" ]; then
      echo "oauth-test-server: the server did not start; see $DIR/server.log" >&2
      cat "$DIR/server.log" >&2 || true
      stop
      exit 1
    fi
    echo "export OUTPOST_TEST_OAUTH_ISSUER=$issuer" >"$DIR/env"
    cat "$DIR/env"
    ;;
  stop)
    stop
    ;;
  *)
    echo "usage: $0 install | start [port] | stop" >&2
    exit 2
    ;;
esac
