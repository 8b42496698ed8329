#!/usr/bin/env bash
# Generation as a share of the memory read-bandwidth ceiling, per weight type and thread count:
# each `omni bench llm --bandwidth` run measures tg and then, in the same process, the ceiling
# (best of several read shapes over a 512 MiB buffer, on all hardware threads and on -t). Prints
# one table row per run plus the load average. Builds and fetches nothing.
#
#   scripts/bench/llm_bandwidth_table.sh MODEL_DIR [ROUNDS] [TYPES] [THREADS]
#     MODEL_DIR  folder with qwen2-0.5b-{f16,q8_0,q4_0,q4_K_M}.gguf
#     ROUNDS     runs per configuration (default 1); TYPES / THREADS as in llm_side_by_side.sh
# Environment: OMNI (default build/release/omni), TG (64).
set -euo pipefail
dir=$1
rounds=${2:-1}
types=${3:-"f16 q8_0 q4_0 q4_K_M"}
threads=${4:-"2 1"}
omni=${OMNI:-build/release/omni}
tg=${TG:-64}
echo "| type | threads | tg tok/s | MB per token | GB/s of weights | ceiling GB/s (all threads / -t) | % of ceiling (all / -t) | best shape | load |"
echo "|---|---|---|---|---|---|---|---|---|"
for t in $types; do
  for th in $threads; do
    for ((i = 0; i < rounds; ++i)); do
      load=$(cut -d' ' -f1-3 /proc/loadavg)
      "$omni" bench llm -m "$dir/qwen2-0.5b-$t.gguf" -p 0 -n "$tg" -t "$th" -r 1 --bandwidth --json |
        python3 -c '
import json, sys
j = json.load(sys.stdin); g = j["tg"]; b = j["bandwidth"]
print("| %s | %d | %.1f | %.0f | %.1f | %.1f / %.1f | %.0f / %.0f | %s | %s |" % (
    sys.argv[1], j["threads"], g["tokens_per_s"], g["bytes_per_token"] / 1e6, g["weight_gb_per_s"],
    b["ceiling_gb_per_s"], b["at_threads_gb_per_s"], g["pct_of_ceiling"],
    g["pct_of_ceiling_at_threads"], b["best_shape"], sys.argv[2]))' "$t" "$load"
    done
  done
done
