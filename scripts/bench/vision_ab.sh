#!/usr/bin/env bash
# Image-encode CPU time of two omni builds, interleaved (A B A B ...) so both see the same
# machine load: per mmproj file and thread count, the median and best cpu_ms of `omni bench
# vision -r REPS` over the rounds and B/A of the medians. Builds and fetches nothing.
#
#   scripts/bench/vision_ab.sh OMNI_A OMNI_B MMPROJ_DIR [ROUNDS] [THREADS] [MODELS]
#     OMNI_A / OMNI_B  two omni binaries (e.g. main's build and a branch's)
#     MMPROJ_DIR       folder with the mmproj files (vision_vs_llama.sh's WORK folder)
#     ROUNDS           invocations per build and configuration (default 3)
#     THREADS          thread counts (default "1 2")
#     MODELS           file stems (default "llava15-7b-f16 smolvlm-256m-512-f16")
# Environment: IMAGE (default: the refdata rocket.jpg), REPS (runs per invocation, default 3).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
a=$1
b=$2
dir=$3
rounds=${4:-3}
threads=${5:-"1 2"}
models=${6:-"llava15-7b-f16 smolvlm-256m-512-f16"}
image=${IMAGE:-$ROOT/../shared/refdata/vision/images/rocket.jpg}
reps=${REPS:-3}
cpu_ms() {  # binary mmproj threads -> cpu_ms
  "$1" bench vision --mmproj "$2" --image "$image" -t "$3" -r "$reps" --json |
    python3 -c 'import json, sys; print(round(json.load(sys.stdin)["cpu_ms"], 1))'
}
stats() {  # values... -> "median (best)"
  printf '%s\n' "$@" | sort -n |
    awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
         printf "%.1f (%.1f)", m, v[1]}'
}
echo "| model | threads | A cpu_ms median (best) | B cpu_ms median (best) | B/A | load before / after |"
echo "|---|---|---|---|---|---|"
for th in $threads; do
  for m in $models; do
    load0=$(cut -d' ' -f1 /proc/loadavg)
    ra=() rb=()
    for ((i = 0; i < rounds; ++i)); do
      ra+=("$(cpu_ms "$a" "$dir/$m.gguf" "$th")")
      rb+=("$(cpu_ms "$b" "$dir/$m.gguf" "$th")")
    done
    load1=$(cut -d' ' -f1 /proc/loadavg)
    ma=$(printf '%s\n' "${ra[@]}" | sort -n | awk '{v[NR]=$1} END {print NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}')
    mb=$(printf '%s\n' "${rb[@]}" | sort -n | awk '{v[NR]=$1} END {print NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}')
    echo "| $m | $th | $(stats "${ra[@]}") | $(stats "${rb[@]}") | $(awk -v x="$ma" -v y="$mb" 'BEGIN {printf "%.3f", y / x}') | $load0 / $load1 |"
    echo "  A: ${ra[*]}  B: ${rb[*]}" >&2
  done
done
