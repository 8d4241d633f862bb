#!/usr/bin/env bash
# A real S3-compatible server on loopback for outpost-media's staging tests.
#
#   eval "$(scripts/s3-test-server.sh start)"   # installs on first use, starts, exports the env
#   cargo test -p outpost-media --test staging
#   scripts/s3-test-server.sh stop
#
# The server is s3s-fs (crates.io), installed with `cargo install` into .tools/s3s-fs. Unlike
# moto's server mode, it checks SigV4 signatures — of headers and of presigned URLs — so wrong
# keys and tampered URLs fail as they do on a real bucket. Two processes share one data folder:
#   - the authenticated endpoint (OUTPOST_TEST_S3_ENDPOINT), which Outpost talks to;
#   - an anonymous one (OUTPOST_TEST_S3_PUBLIC_URL, the bucket's URL on it), standing in for a
#     public-read bucket or custom domain, from which staged objects are fetched without keys.
# Only 127.0.0.1 is used. `start` prints the variables as `export` lines (also saved in
# .tools/s3-test-server/env); `stop` ends only the processes this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.14.1 # the newest s3s-fs whose rust-version (1.92) our toolchain meets
ROOT=.tools/s3-test-server
BIN=.tools/s3s-fs/bin/s3s-fs
BUCKET=outpost-test
ACCESS_KEY=outpost-test-access-key
SECRET_KEY=outpost-test-secret-key

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "s3-test-server: nothing listens on 127.0.0.1:$1; see $ROOT/*.log" >&2
  return 1
}

stop() {
  for name in auth public; do
    pidfile="$ROOT/$name.pid"
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      # Only our own process: check the command line before signalling it.
      if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "s3s-fs"; then
        kill "$pid" 2>/dev/null || true
      fi
      rm -f "$pidfile"
    fi
  done
}

case "${1:-}" in
  start)
    if [ ! -x "$BIN" ] || ! "$BIN" --version 2>/dev/null | grep -q "$VERSION"; then
      echo "s3-test-server: installing s3s-fs $VERSION into .tools/s3s-fs (a few minutes, once)" >&2
      cargo install s3s-fs --version "$VERSION" --features binary --locked --root .tools/s3s-fs >&2
    fi
    stop
    rm -rf "$ROOT/data"
    mkdir -p "$ROOT/data/$BUCKET"
    auth_port=$(free_port)
    "$BIN" --host 127.0.0.1 --port "$auth_port" \
      --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" "$ROOT/data" >"$ROOT/auth.log" 2>&1 &
    echo $! >"$ROOT/auth.pid"
    public_port=$(free_port)
    "$BIN" --host 127.0.0.1 --port "$public_port" "$ROOT/data" >"$ROOT/public.log" 2>&1 &
    echo $! >"$ROOT/public.pid"
    wait_port "$auth_port"
    wait_port "$public_port"
    cat >"$ROOT/env" <<EOF
export OUTPOST_TEST_S3_ENDPOINT=http://127.0.0.1:$auth_port
export OUTPOST_TEST_S3_PUBLIC_URL=http://127.0.0.1:$public_port/$BUCKET
export OUTPOST_TEST_S3_BUCKET=$BUCKET
export OUTPOST_TEST_S3_ACCESS_KEY_ID=$ACCESS_KEY
export OUTPOST_TEST_S3_SECRET_ACCESS_KEY=$SECRET_KEY
EOF
    cat "$ROOT/env"
    ;;
  stop)
    stop
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
