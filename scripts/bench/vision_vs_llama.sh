#!/usr/bin/env bash
# Image-encode time of `omni bench vision` against llama.cpp's llama-mtmd-cli on the same
# random-weight mmproj files, interleaved (ours, llama.cpp, ours, ...) so both see the same load.
#
#   LLAMA_BIN=/path/to/llama.cpp/build/bin scripts/bench/vision_vs_llama.sh
#
# LLAMA_BIN   directory holding llama-mtmd-cli (built separately; this script never fetches or
#             builds llama.cpp)
# OMNI_BIN    directory holding omni and omni-gen (default: build/release of this checkout)
# WORK        where the generated GGUFs go (default: ${TMPDIR:-/tmp}/omni-vision-bench; ~1 GiB)
# IMAGE       the image (default: the refdata rocket.jpg, 640x427)
# THREADS     thread counts to run (default "2 1"); REPS repetitions per pair (default 2)
# SHAPES      any of llava15 smolvlm (default both); TYPES any of f16 f32 q8_0 (default f16)
#
# Files: omni-gen mmproj --preset llava15-7b (CLIP ViT-L/14 at 336 px, 23 layers, mlp -> 4096)
# and --preset smolvlm-256m --preproc-size 512 (SigLIP-B/16 at 512 px, idefics3 -> 576; the
# tiled image is 512 px, so each image is 1 tile + the global image = 2 ViT passes). The text
# model llama-mtmd-cli needs is a 1-layer random LLM whose n_embd matches the projector output,
# with one 64-wide head and a 32-wide FFN so that decoding the image tokens costs next to nothing.
#
# Output: one line per run: tool, shape, type, threads, encode wall ms (ours: ViT + projector;
# llama.cpp: its "mtmd batch encoding done in" lines summed), encode CPU ms (ours: process CPU
# time over the encode; llama.cpp: user + sys of the whole process, so it includes loading),
# 1-minute load average before the run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${LLAMA_BIN:?set LLAMA_BIN to the directory holding llama-mtmd-cli}"
OMNI_BIN=${OMNI_BIN:-$ROOT/build/release}
WORK=${WORK:-${TMPDIR:-/tmp}/omni-vision-bench}
IMAGE=${IMAGE:-$ROOT/../shared/refdata/vision/images/rocket.jpg}
THREADS=${THREADS:-"2 1"}
REPS=${REPS:-2}
SHAPES=${SHAPES:-"llava15 smolvlm"}
TYPES=${TYPES:-f16}
LLAVA_VOCAB=${LLAVA_VOCAB:-$ROOT/../shared/refdata/llm/models/tiny-llama-rand-f32.gguf}
SMOL_VOCAB=${SMOL_VOCAB:-$ROOT/../shared/refdata/vision/models/tiny-smolvlm-text-rand-f32.gguf}

mkdir -p "$WORK"
gen() { [ -s "$1" ] || "$OMNI_BIN/omni-gen" "${@:2}" -o "$1" > /dev/null; }
gen "$WORK/text-4096.gguf" llm --arch llama --layers 1 --embd 4096 --heads 1 --kv-heads 1 \
  --head-dim 64 --ff 32 --ctx 2048 --tied --vocab-from "$LLAVA_VOCAB" --type f16
gen "$WORK/text-576.gguf" llm --arch llama --layers 1 --embd 576 --heads 1 --kv-heads 1 \
  --head-dim 64 --ff 32 --ctx 4096 --tied --vocab-from "$SMOL_VOCAB" --type f16
for t in $TYPES; do
  gen "$WORK/llava15-7b-$t.gguf" mmproj --preset llava15-7b --type "$t"
  gen "$WORK/smolvlm-256m-512-$t.gguf" mmproj --preset smolvlm-256m --preproc-size 512 --type "$t"
done

load1() { cut -d' ' -f1 /proc/loadavg; }

ours() {  # mmproj threads
  local l j
  l=$(load1)
  j=$("$OMNI_BIN/omni" bench vision --mmproj "$1" --image "$IMAGE" -t "$2" -r 1 --json)
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print("%.0f %.0f" % (j["vit_ms"] + j["project_ms"], j["cpu_ms"]))' "$j" |
    { read -r wall cpu; echo "$wall $cpu $l"; }
}

llama() {  # mmproj text-model threads
  local l log tf
  l=$(load1)
  log=$WORK/mtmd.log
  tf=$WORK/mtmd.time
  /usr/bin/time -f "%U %S" -o "$tf" "$LLAMA_BIN/llama-mtmd-cli" -m "$2" --mmproj "$1" \
    --image "$IMAGE" -p "hi" -t "$3" -n 1 --temp 0 --chat-template chatml > "$log" 2>&1
  local wall cpu
  wall=$(grep -o 'mtmd batch encoding done in [0-9]* ms' "$log" | awk '{s += $6} END {print s + 0}')
  cpu=$(awk '{printf "%.0f", ($1 + $2) * 1000}' "$tf")
  [ "$wall" -gt 0 ] || { echo "llama-mtmd-cli gave no encode time, see $log" >&2; exit 1; }
  echo "$wall $cpu $l"
}

printf 'tool\tshape\ttype\tthreads\tencode_ms\tcpu_ms\tload1\n'
for rep in $(seq "$REPS"); do
  for th in $THREADS; do
    for t in $TYPES; do
      for s in $SHAPES; do
        if [ "$s" = llava15 ]; then m=$WORK/llava15-7b-$t.gguf; txt=$WORK/text-4096.gguf
        else m=$WORK/smolvlm-256m-512-$t.gguf; txt=$WORK/text-576.gguf; fi
        printf 'omni\t%s\t%s\t%s\t%s\n' "$s" "$t" "$th" "$(ours "$m" "$th" | tr ' ' '\t')"
        printf 'llama.cpp\t%s\t%s\t%s\t%s\n' "$s" "$t" "$th" "$(llama "$m" "$txt" "$th" | tr ' ' '\t')"
      done
    done
  done
done
