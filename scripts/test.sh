#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, build, unit/integration/end-to-end tests, and the
# secret store against the real OS keychains (Secret Service and the kernel keyring).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
. ./scripts/env.sh

step() { printf '\n==> %s\n' "$*"; }

step "format"
cargo fmt --all -- --check
step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "build (the end-to-end tests drive the real outpost binary)"
cargo build --workspace --locked
step "tests (encrypted file secret store)"
cargo test --workspace --locked
step "secret store against the Secret Service (gnome-keyring on a private D-Bus session)"
scripts/with-keychain.sh secret-service cargo test -p outpost-auth --locked --test keychain
step "secret store against the kernel keyring (keyutils)"
scripts/with-keychain.sh keyutils cargo test -p outpost-auth --locked --test keychain
step "end-to-end through the OS keychain (Secret Service)"
scripts/with-keychain.sh secret-service cargo test -p outpost-e2e --locked --test agent
