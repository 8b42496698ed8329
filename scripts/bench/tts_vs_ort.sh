#!/usr/bin/env bash
# Text to speech speed, ours vs ONNX Runtime on the SAME Piper voice file, interleaved
# (ours 1 thread, ORT 1 thread, ours 2 threads, ORT 2 threads; ROUNDS times), with the load
# average before each round. Builds and installs nothing: it needs an existing release build
# (omni-gen, omni_bench) and, for the ORT rows, a folder holding node_modules/onnxruntime-node.
#
#   scripts/bench/tts_vs_ort.sh                       # ours only
#   ORT_NODE_DIR=/path/to/dir scripts/bench/tts_vs_ort.sh
#
# Env: BUILD (default build/release), OMNI_REFDATA (default ../shared/refdata), ROUNDS (3),
# VOICE (a Piper .onnx; default: a random-weight medium voice written by omni-gen piper from the
# refdata tiny voice into a temporary folder), ORT_RUNS (runs per ORT timing, 10).
# Run from the project root.
set -euo pipefail

BUILD=${BUILD:-build/release}
REFDATA=${OMNI_REFDATA:-../shared/refdata}
ROUNDS=${ROUNDS:-3}
ORT_RUNS=${ORT_RUNS:-10}
GOLDEN="$REFDATA/tts/golden/en2.json"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -z "${VOICE:-}" ]]; then
  VOICE="$tmp/medium.onnx"
  "$BUILD/omni-gen" piper --from "$REFDATA/tts/models/tiny.onnx" \
    --hidden 192 --filter 768 --decoder 256 --seed 1 -o "$VOICE"
fi
echo "voice: $VOICE ($(stat -c %s "$VOICE") bytes); sentence: en2 ($GOLDEN)"
nproc_=$(nproc)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $nproc_ cores"

ours() {  # threads
  OMNI_TTS_VOICE="$VOICE" OMNI_REFDATA="$REFDATA" "$BUILD/omni_bench" \
    --benchmark_filter="BM_TtsFile(En2/threads:$1/|FirstAudio/threads:$1/first:16/)" \
    2>/dev/null | grep '^BM_' | sed 's/^/ours  /'
}
ort() {  # threads
  if [[ -n "${ORT_NODE_DIR:-}" ]]; then
    node scripts/bench/tts_ort.js "$ORT_NODE_DIR" "$VOICE" "$GOLDEN" "$1" "$ORT_RUNS" |
      sed 's/^/ORT   /'
  fi
}

for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  for threads in 1 2; do
    ours "$threads"
    ort "$threads"
  done
done
