#!/usr/bin/env bash
# A/B of omni binaries (e.g. copies of two commits' build/release/omni) on `omni bench vision`:
# runs them interleaved (A B A B ...) per mmproj, each run `-r REPS`, and prints per mmproj and
# binary the mean and lowest cpu_ms (CPU time of the encode, steadier than wall time under
# load) and vit_ms over the rounds, then the load average. Builds nothing.
#
#   scripts/bench/vision_ab.sh IMAGE THREADS ROUNDS MMPROJ[,MMPROJ...] OMNI_A OMNI_B [OMNI_C ...]
#   e.g. scripts/bench/vision_ab.sh rocket.jpg 1 3 smolvlm-256m-512-f16.gguf,llava15-7b-f16.gguf \
#          /tmp/omni-main build/release/omni
# REPS (default 3) sets the runs per round.
set -euo pipefail
image=$1
threads=$2
rounds=$3
IFS=, read -r -a mmprojs <<<"$4"
shift 4
reps=${REPS:-3}
cat /proc/loadavg
for m in "${mmprojs[@]}"; do
  for ((i = 0; i < rounds; ++i)); do
    for b in "$@"; do
      "$b" bench vision --mmproj "$m" --image "$image" -t "$threads" -r "$reps" --json |
        python3 -c 'import json, sys; j = json.load(sys.stdin); print(sys.argv[1], sys.argv[2], j["cpu_ms"], j["vit_ms"])' "$(basename "$m")" "$b"
    done
  done
done | awk '{k = $1 " " $2; s[k] += $3; v[k] += $4; c[k]++; if (!(k in m) || $3 < m[k]) m[k] = $3}
            END {for (k in m) printf "%s cpu_ms mean %.1f min %.1f vit_ms mean %.1f (%d rounds)\n",
                                     k, s[k] / c[k], m[k], v[k] / c[k], c[k]}' | sort
cat /proc/loadavg
