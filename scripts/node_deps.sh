#!/usr/bin/env bash
# Installs the Node test clients (the openai package, playwright-core) into tests/node from the
# committed package-lock.json. Re-running is cheap: npm ci is skipped when the lock is unchanged.
set -euo pipefail
cd "$(dirname "$0")/../tests/node"
stamp=node_modules/.omni-lock-stamp
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
npm ci --no-audit --no-fund
cp package-lock.json "$stamp"
