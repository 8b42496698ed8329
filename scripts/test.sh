#!/usr/bin/env bash
# The test command: builds (if needed) and runs the whole suite in the Release and the
# AddressSanitizer + UBSan trees, then a short fuzz smoke of every libFuzzer target.
# Reference data is read from ../shared/refdata; tests fail, never skip, when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash scripts/setup.sh

for preset in release asan; do
  echo "== $preset build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "== $preset tests"
  ctest --preset "$preset" -j "$jobs"
done

echo "== fuzz smoke"
bash scripts/fuzz.sh smoke
