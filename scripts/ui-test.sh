#!/usr/bin/env bash
# The UI's checks, as CI runs them: lint, types (svelte-check), component tests (Vitest), the
# production build, and the flows in Playwright against the built UI in Debian's Chromium.
# Exits non-zero on the first failure; the Playwright run ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/../ui"

step() { printf '\n==> %s\n' "$*"; }

if [ ! -x /usr/bin/chromium ]; then
  step "installing Debian's chromium (Playwright never downloads a browser here)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

export CI="${CI:-true}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

step "npm ci"
npm ci --no-audit --no-fund
step "lint"
npm run lint
step "types (svelte-check)"
npm run check
step "component tests (vitest)"
npm test
step "build"
npm run build
step "flows (playwright, /usr/bin/chromium)"
npm run e2e
