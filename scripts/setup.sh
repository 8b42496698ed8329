#!/usr/bin/env bash
# One command on a bare Debian 12 machine: install the build dependencies, configure and build
# the Release tree (build/release). Re-running it is cheap and safe.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the build, the tests and the engines use (one list; CI uses the same).
PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libstb-dev
  libsndfile1-dev libsamplerate0-dev
  libespeak-ng-dev espeak-ng-data libicu-dev
  libcpp-httplib-dev libcurl4-openssl-dev libtomlplusplus-dev
  libwebp-dev libjpeg-dev libtesseract-dev tesseract-ocr-eng tesseract-ocr-kor fonts-noto-cjk fonts-dejavu-core
  libpocketsphinx-dev pocketsphinx-en-us
  nodejs chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Node test clients (openai, playwright-core) from tests/node/package-lock.json.
bash scripts/node_deps.sh

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
echo "setup: built build/release/omni"
