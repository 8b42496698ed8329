#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each one.
#   scripts/fuzz.sh smoke            a few seconds each (part of the test command)
#   scripts/fuzz.sh run SECONDS [T]  a long run of every target, or only target T
# Seeds come from fuzz/seeds.sh (refdata files); the working corpus stays in build/fuzz/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-smoke}
seconds=${2:-5}
only=${3:-}
[ "$mode" = smoke ] && seconds=${OMNI_FUZZ_SMOKE_SECONDS:-5}

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

shopt -s nullglob
targets=(build/fuzz/*_fuzz)
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no targets built"; exit 0
fi
passed=0; failed=0
for t in "${targets[@]}"; do
  name=$(basename "$t")
  [ -n "$only" ] && [ "$name" != "$only" ] && continue
  corpus=build/fuzz/corpus/$name
  mkdir -p "$corpus"
  seeds=()
  if [ -f "fuzz/$name.seeds" ]; then
    while IFS= read -r line; do
      [ -z "$line" ] && continue
      seeds+=("$line")
    done < <(sed "s|@REFDATA@|${OMNI_REFDATA:-../shared/refdata}|g" "fuzz/$name.seeds")
  fi
  seed_dir=build/fuzz/seeds/$name
  rm -rf "$seed_dir"; mkdir -p "$seed_dir"
  for s in "${seeds[@]}"; do
    [ -f "$s" ] || { echo "fuzz: seed $s missing (is ../shared/refdata there?)"; exit 1; }
    cp "$s" "$seed_dir/"
  done
  echo "== $name: ${seconds}s"
  if "$t" -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=${OMNI_FUZZ_MAX_LEN:-1048576} \
      -artifact_prefix="build/fuzz/$name-" "$corpus" "$seed_dir" 2>"build/fuzz/$name.log"; then
    tail -n 1 "build/fuzz/$name.log"
    passed=$((passed + 1))
  else
    tail -n 40 "build/fuzz/$name.log"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
