#!/usr/bin/env bash
# A/B of two omni builds on the vision encoder, interleaved (A B A B ...) so both see the same
# machine load. Prints per round cpu_ms / total_ms of each and the median B/A ratios.
# usage: scripts/bench/vision_ab.sh A/omni B/omni MODEL_DIR [ROUNDS] ["MODELS"] ["THREADS"] [IMAGE]
#   MODELS: file stems in MODEL_DIR (default "llava15-7b-f16 smolvlm-256m-512-f16")
set -euo pipefail
A=$1 B=$2 DIR=$3
ROUNDS=${4:-3}
MODELS=${5:-"llava15-7b-f16 smolvlm-256m-512-f16"}
THREADS=${6:-"1 2"}
IMAGE=${7:-$(dirname "$0")/../../../shared/refdata/vision/images/rocket.jpg}
field() { python3 -c "import json,sys; print(round(json.load(sys.stdin)['$1'], 1))"; }
for m in $MODELS; do
  for t in $THREADS; do
    ca=() cb=() wa=() wb=()
    for ((r = 0; r < ROUNDS; r++)); do
      for side in A B; do
        bin=$A; [ "$side" = B ] && bin=$B
        out=$("$bin" bench vision --mmproj "$DIR/$m.gguf" --image "$IMAGE" -t "$t" -r 3 --json)
        c=$(field cpu_ms <<<"$out") w=$(field total_ms <<<"$out")
        if [ "$side" = A ]; then ca+=("$c"); wa+=("$w"); else cb+=("$c"); wb+=("$w"); fi
      done
      echo "$m t$t round $r: A cpu ${ca[-1]} wall ${wa[-1]} | B cpu ${cb[-1]} wall ${wb[-1]} | load $(cut -d' ' -f1 /proc/loadavg)"
    done
    python3 - "${ca[*]}" "${cb[*]}" "${wa[*]}" "${wb[*]}" "$m" "$t" <<'PY'
import statistics as s, sys
ca, cb, wa, wb = ([float(v) for v in a.split()] for a in sys.argv[1:5])
print(f"{sys.argv[5]} t{sys.argv[6]}: cpu median A {s.median(ca):.0f} B {s.median(cb):.0f} "
      f"B/A {s.median(cb)/s.median(ca):.3f} (min {min(cb)/min(ca):.3f}); "
      f"wall median A {s.median(wa):.0f} B {s.median(wb):.0f} B/A {s.median(wb)/s.median(wa):.3f}")
PY
  done
done
