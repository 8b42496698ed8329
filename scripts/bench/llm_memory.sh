#!/usr/bin/env bash
# Resident memory and load time of `omni generate` and `omni bench llm` per model file, against
# the LLM issue's bar: peak RSS <= model file size + KV cache + 64 MiB, load + first token < 1 s.
#
#   MODELS="a.gguf b.gguf" [OMNI_BUILD=build/release] [THREADS=2] scripts/bench/llm_memory.sh
#
# Per model prints: file size; `omni generate -p Hello -n 1` wall time and peak RSS (GNU time),
# i.e. mmap + vocabulary + first token; `omni generate -n 16 --mem-report` stage lines (anonymous
# vs file-backed); `omni bench llm -p 128 -n 64 -r 1 --json` peak RSS, anonymous / file-backed
# RSS and KV cache bytes. Memory figures do not depend on load; wall times do (load average
# printed).
set -euo pipefail
OMNI=${OMNI_BUILD:-build/release}/omni
THREADS=${THREADS:-2}
: "${MODELS:?set MODELS to the GGUF files to measure}"
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
for m in $MODELS; do
  size=$(stat -c %s "$m")
  echo "== $m: file $(mib "$size") MiB, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  for _ in 1 2 3; do
    /usr/bin/time -f "first token: wall %e s, peak RSS %M KiB" \
      "$OMNI" generate -m "$m" -p Hello -n 1 -t "$THREADS" --temp 0 2>&1 >/dev/null | grep '^first token'
  done
  "$OMNI" generate -m "$m" -p Hello -n 16 -t "$THREADS" --temp 0 --mem-report 2>&1 >/dev/null | grep '^memory'
  "$OMNI" bench llm -m "$m" -p 128 -n 64 -r 1 -t "$THREADS" --json | python3 -c '
import json, sys
j = json.load(sys.stdin); m = j["memory"]; M = 1 << 20
print("bench llm: peak %.1f MiB = file + %.1f MiB (kv cache %.1f MiB, bar file + kv + 64); anon %.1f, file-backed %.1f; load %.0f ms"
      % (m["peak_rss"] / M, (m["peak_rss"] - m["file_bytes"]) / M, m["kv_cache_bytes"] / M,
         m["rss_anon"] / M, m["rss_file"] / M, j["load_ms"]))'
done
