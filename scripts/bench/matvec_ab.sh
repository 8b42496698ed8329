#!/usr/bin/env bash
# A/B of omni_bench binaries (e.g. copies of two commits' build/release/omni_bench) on the
# single-token matvec benchmarks: runs them interleaved (A B A B ...) and prints, per benchmark
# and binary, the lowest CPU time per call of all rounds (CPU time, not wall: under load the
# wall clock mostly measures the scheduler), then the load average. Builds nothing.
#
#   scripts/bench/matvec_ab.sh FILTER ROUNDS BENCH_A BENCH_B [BENCH_C ...]
#   e.g. FILTER='matvec/(q8_0|q5_0|q4_0)/(4864x896|896x4864|151936x896)/threads:1|matvec_cached/|rows4_l1/'
# A binary may be a wrapper script that sets OMNI_CPU=avx2 and execs the real one.
set -euo pipefail
filter=$1
rounds=$2
shift 2
for ((i = 0; i < rounds; ++i)); do
  for b in "$@"; do
    "$b" --benchmark_filter="$filter" --benchmark_min_time=0.1 2>/dev/null |
      awk -v b="$b" '/^(matvec|rows4)/ {print b, $1, $4, $5}'
  done
done | awk '{k = $1 " " $2; if (!(k in m) || $3 < m[k]) {m[k] = $3; u[k] = $4}}
            END {for (k in m) print k, m[k], u[k]}' | sort -k2,2 -k1,1
cat /proc/loadavg
