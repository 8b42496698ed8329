#!/usr/bin/env bash
# Voice-to-voice benchmark of whole turns at the issue's full shapes: a Qwen2-0.5B-shape Q4_K_M
# LLM and a base.en-shape Whisper (random weights, made by omni-gen), espeak-ng TTS, the energy
# VAD ending the turn (1 s of silence after the question), Whisper's decode capped at the
# reference transcript's length (random weights never emit end-of-text; see bench_pipeline.cc).
#
#   scripts/bench/pipeline.sh [BUILD_DIR] [MODELS_DIR] [RUNS] [EXTRA OMNI FLAGS...]
#
# Extra flags go to `omni bench pipeline`, e.g. the old behaviour for comparison:
#   --asr-final-context full --no-speculate --set pipeline.chunker_first_latency_ms=0
#
# Models are generated into MODELS_DIR (default: a temporary folder) when missing. Prints the
# load average before and after, and the bench's JSON.
set -euo pipefail
build=${1:-build/release}
models=${2:-${TMPDIR:-/tmp}/omni-bench-models}
runs=${3:-10}
extra=("${@:4}")
mkdir -p "$models"
here=$(cd "$(dirname "$0")/../.." && pwd)
refdata=${OMNI_REFDATA:-$here/../shared/refdata}
llm=$models/qwen2-0.5b-q4_K_M.gguf
asr=$models/ggml-base.en-random-f16.bin
[[ -f $llm ]] || "$build/omni-gen" llm --preset qwen2-0.5b --type q4_K_M -o "$llm"
[[ -f $asr ]] || "$build/omni-gen" whisper --preset whisper-base.en \
  --vocab-from "$refdata/asr/models/ggml-micro.en-random-f16.bin" --type f16 -o "$asr"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/omni" bench pipeline -m "$llm" --asr-model "$asr" --runs "$runs" -n 32 -t 2 --json \
  "${extra[@]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
