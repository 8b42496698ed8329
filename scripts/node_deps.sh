#!/usr/bin/env bash
# Installs the Node test clients (the openai package, playwright-core) into tests/node from the
# committed package-lock.json. Re-running is cheap: npm ci is skipped when the lock is unchanged.
set -euo pipefail
cd "$(dirname "$0")/../tests/node"
if ! command -v npm >/dev/null; then
  echo "node_deps: npm not found (install Node.js 20 with npm; the tests/node suites need it)" >&2
  exit 1
fi
stamp=node_modules/.omni-lock-stamp
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
npm ci --no-audit --no-fund
cp package-lock.json "$stamp"
