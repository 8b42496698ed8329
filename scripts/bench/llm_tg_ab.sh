#!/usr/bin/env bash
# Generation speed of two omni builds, interleaved (A B A B ...) so both see the same machine
# load: per weight type and thread count, the median and best tg tok/s of each build over the
# rounds, B/A of the medians, and tg as a share of a read-bandwidth ceiling (measured once per
# thread count by build B's --bandwidth probe unless CEILING is given). Builds and fetches nothing.
#
#   scripts/bench/llm_tg_ab.sh OMNI_A OMNI_B MODEL_DIR [ROUNDS] [TYPES] [THREADS]
#     OMNI_A / OMNI_B  two omni binaries (e.g. main's build and a branch's)
#     MODEL_DIR        folder with qwen2-0.5b-{f16,q8_0,q4_0,q4_K_M}.gguf
#     ROUNDS           runs per build and configuration (default 5)
#     TYPES / THREADS  as in llm_side_by_side.sh (defaults: all four; "2 1")
# Environment: TG (64 tokens per run), CEILING (GB/s; skips the probe).
set -euo pipefail
a=$1
b=$2
dir=$3
rounds=${4:-5}
types=${5:-"f16 q8_0 q4_0 q4_K_M"}
threads=${6:-"2 1"}
tg=${TG:-64}
tok_s() {  # binary model threads -> "tok/s bytes_per_token"
  "$1" bench llm -m "$2" -p 0 -n "$tg" -t "$3" -r 1 --json |
    python3 -c 'import json, sys; g = json.load(sys.stdin)["tg"]; print(g["tokens_per_s"], g["bytes_per_token"])'
}
echo "| type | threads | A tok/s median (best) | B tok/s median (best) | B/A | A / B % of ceiling | ceiling GB/s | load before / after |"
echo "|---|---|---|---|---|---|---|---|"
for th in $threads; do
  ceiling=${CEILING:-}
  if [[ -z $ceiling ]]; then
    ceiling=$("$b" bench llm -m "$dir/qwen2-0.5b-q4_0.gguf" -p 0 -n 8 -t "$th" -r 1 --bandwidth --json |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["bandwidth"]["ceiling_gb_per_s"])')
  fi
  for t in $types; do
    m="$dir/qwen2-0.5b-$t.gguf"
    load0=$(cut -d' ' -f1 /proc/loadavg)
    ra=() rb=() bytes=0
    for ((i = 0; i < rounds; ++i)); do
      read -r v bytes < <(tok_s "$a" "$m" "$th"); ra+=("$v")
      read -r v bytes < <(tok_s "$b" "$m" "$th"); rb+=("$v")
    done
    python3 - "$t" "$th" "$ceiling" "$bytes" "$load0 / $(cut -d' ' -f1 /proc/loadavg)" "${ra[*]}" "${rb[*]}" <<'PY'
import statistics, sys
t, th, ceil, nbytes, load = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
a = [float(x) for x in sys.argv[6].split()]
b = [float(x) for x in sys.argv[7].split()]
ma, mb = statistics.median(a), statistics.median(b)
pct = lambda v: 100 * v * nbytes / 1e9 / ceil
print("| %s | %s | %.1f (%.1f) | %.1f (%.1f) | %.3f | %.0f / %.0f | %.1f | %s |" % (
    t, th, ma, max(a), mb, max(b), mb / ma, pct(ma), pct(mb), ceil, load))
PY
  done
done
