#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint and types, the UI's component tests and flows,
# the Rust unit/integration/end-to-end tests, the secret store against the real OS keychains,
# and smoke tests of the real desktop app under a virtual display.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
. ./scripts/env.sh

step() { printf '\n==> %s\n' "$*"; }

step "UI: lint, types, Vitest, build (ui/dist), Playwright"
bash scripts/ui-test.sh

step "format"
cargo fmt --all -- --check
step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "build (the end-to-end tests drive the real outpost binary)"
cargo build --workspace --locked
step "test servers on loopback: S3-compatible (s3s-fs) and OAuth 2.0 (oidc-provider)"
eval "$(scripts/s3-test-server.sh start)"
trap 'scripts/s3-test-server.sh stop >/dev/null 2>&1 || true' EXIT
scripts/oauth-test-server.sh install
# Tests that need these servers fail (instead of skipping) when they are missing.
export OUTPOST_TEST_S3_REQUIRED=1 OUTPOST_TEST_OAUTH_REQUIRED=1
step "tests (encrypted file secret store; includes the TypeScript bindings drift check)"
cargo test --workspace --locked
step "secret store against the Secret Service (gnome-keyring on a private D-Bus session)"
scripts/with-keychain.sh secret-service cargo test -p outpost-auth --locked --test keychain
step "secret store against the kernel keyring (keyutils)"
scripts/with-keychain.sh keyutils cargo test -p outpost-auth --locked --test keychain
step "end-to-end through the OS keychain (Secret Service)"
scripts/with-keychain.sh secret-service cargo test -p outpost-e2e --locked --test agent
scripts/s3-test-server.sh stop

step "desktop app: build with the UI inside, then smoke tests through tauri-driver under Xvfb"
cargo build -p outpost-app --features custom-protocol --locked
[ -x .tools/bin/tauri-driver ] || cargo install tauri-driver --version 2.1.0 --locked --root .tools
xvfb-run -a -s "-screen 0 1400x900x24" dbus-run-session -- \
  env OUTPOST_APP_E2E=1 cargo test -p outpost-e2e --locked --test app_smoke -- --test-threads=1
