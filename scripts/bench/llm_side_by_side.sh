#!/usr/bin/env bash
# Side-by-side LLM speed against llama.cpp: for each model and thread count, llama-bench and
# `omni bench llm` run alternately (A B A B ...), so both see the same machine load; prints one
# line per run plus the load average. Builds and fetches nothing.
#
#   scripts/bench/llm_side_by_side.sh LLAMA_BENCH MODEL_DIR [ROUNDS] [TYPES] [THREADS]
#     LLAMA_BENCH  path to an existing llama-bench binary
#     MODEL_DIR    folder with qwen2-0.5b-{f16,q8_0,q4_0,q4_K_M}.gguf (omni-gen llm --preset qwen2-0.5b)
#     ROUNDS       alternations per configuration (default 2)
#     TYPES        e.g. "f16 q8_0" (default: all four)
#     THREADS      e.g. "2 1" (default)
# Environment: OMNI (default build/release/omni), PP (128), TG (64).
set -euo pipefail
llama_bench=$1
dir=$2
rounds=${3:-2}
types=${4:-"f16 q8_0 q4_0 q4_K_M"}
threads=${5:-"2 1"}
omni=${OMNI:-build/release/omni}
pp=${PP:-128}
tg=${TG:-64}
for t in $types; do
  m="$dir/qwen2-0.5b-$t.gguf"
  for th in $threads; do
    for ((i = 0; i < rounds; ++i)); do
      echo "## $t t=$th round $i load: $(cut -d' ' -f1-3 /proc/loadavg)"
      "$llama_bench" -m "$m" -p "$pp" -n "$tg" -t "$th" -r 1 2>/dev/null |
        grep -E '^\|.*(pp|tg)[0-9]+ ' | awk -F'|' '{ printf "llama.cpp %s %s\n", $(NF-2), $(NF-1) }'
      "$omni" bench llm -m "$m" -p "$pp" -n "$tg" -t "$th" -r 1 --json | sed 's/^/omni /'
    done
  done
done
