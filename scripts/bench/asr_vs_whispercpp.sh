#!/usr/bin/env bash
# Side-by-side ASR speed: Omni's Whisper engine vs whisper.cpp on the same random-weight model
# files (real tiny.en / base.en shapes), interleaved (whisper.cpp, omni, whisper.cpp, omni ...)
# so both see the same machine load. Prints one line per measurement and a summary table.
#
# It neither fetches nor builds whisper.cpp: point WHISPERCPP_BIN at a directory holding
# whisper-bench and whisper-cli built elsewhere (Release, -DGGML_NATIVE=ON, AMX off).
#
#   WHISPERCPP_BIN=DIR [OMNI_BUILD=build/release] [MODELS=DIR] [THREADS="1 2"]
#   [SHAPES="tiny.en base.en"] [TYPES="f16 q8_0"] [ROUNDS=1] [WHISPER_BENCH=1]
#   scripts/bench/asr_vs_whispercpp.sh
#
# Models are generated with omni-gen into MODELS (default: a temporary directory) when missing.
# Measured per (model, threads):
#   encoder: whisper-bench "encode time" (one 30 s window, after warm-up) vs `omni bench asr`
#            "encoder 30 s"; decoder: whisper-bench "decode time" per token (256 single-token
#            steps) vs `omni bench asr -n 256` ms/token. WHISPER_BENCH=0 skips whisper-bench
#            (it also times batched and prompt decoding, several times the work of a
#            transcription) and reads whisper-cli's own "encode time" (one 30 s window, no
#            warm-up) and "decode time" per token instead (cli columns).
#   whole file: wall time of `whisper-cli -f jfk.wav -bs 1 -bo 1 -nf -nt -l en` (greedy, no
#            temperature fallback, no timestamps) vs `omni transcribe jfk.wav --no-timestamps --beam 1
#            --no-fallback`
#            (greedy, no fallback). Random weights never emit EOT: both sample whisper's limit
#            of 220 tokens, so the work is the same.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
: "${WHISPERCPP_BIN:?set WHISPERCPP_BIN to the directory with whisper-bench and whisper-cli}"
build=${OMNI_BUILD:-$root/build/release}
omni=$build/omni
gen=$build/omni-gen
refdata=${REFDATA:-$root/../shared/refdata}
jfk=$refdata/asr/audio/jfk.wav
vocab=$refdata/asr/models/ggml-micro.en-random-f16.bin
models=${MODELS:-$(mktemp -d)}
threads=${THREADS:-"1 2"}
shapes=${SHAPES:-"tiny.en base.en"}
types=${TYPES:-"f16 q8_0"}
rounds=${ROUNDS:-1}
use_bench=${WHISPER_BENCH:-1}

for f in "$WHISPERCPP_BIN/whisper-bench" "$WHISPERCPP_BIN/whisper-cli" "$omni" "$gen" "$jfk"; do
  [[ -e $f ]] || { echo "missing: $f" >&2; exit 1; }
done

now_ms() { date +%s%3N; }
load() { cut -d' ' -f1 /proc/loadavg; }

echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo "# start load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for shape in $shapes; do
  for type in $types; do
    model=$models/$shape-$type.bin
    if [[ ! -e $model ]]; then
      "$gen" whisper --preset "whisper-$shape" --vocab-from "$vocab" --type "$type" -o "$model" >/dev/null
    fi
    for t in $threads; do
      for ((r = 0; r < rounds; ++r)); do
        l0=$(load)
        w_enc=nan w_dec=nan
        if [[ $use_bench == 1 ]]; then
          wb=$("$WHISPERCPP_BIN/whisper-bench" -m "$model" -t "$t" 2>&1)
          w_enc=$(grep -m1 'encode time' <<<"$wb" | sed -E 's/.*= *([0-9.]+) ms.*/\1/')
          w_dec=$(grep -m1 'decode time' <<<"$wb" | sed -E 's/.*\( *([0-9.]+) ms per run\).*/\1/')
        fi
        ob=$("$omni" bench asr -m "$model" -t "$t" -n 256)
        o_enc=$(grep -m1 'encoder 30 s' <<<"$ob" | sed -E 's/.*: *([0-9.]+) ms.*/\1/')
        o_dec=$(grep -m1 'decoder:' <<<"$ob" | sed -E 's/.*, ([0-9.]+) ms\/token.*/\1/')
        t0=$(now_ms)
        wc=$("$WHISPERCPP_BIN/whisper-cli" -m "$model" -f "$jfk" -t "$t" -bs 1 -bo 1 -nf -nt -l en 2>&1)
        w_file=$(($(now_ms) - t0))
        c_enc=$(grep -m1 'encode time' <<<"$wc" | sed -E 's/.*= *([0-9.]+) ms.*/\1/')
        c_dec=$(grep -m1 'decode time' <<<"$wc" | sed -E 's/.*\( *([0-9.]+) ms per run\).*/\1/')
        t0=$(now_ms)
        "$omni" transcribe "$jfk" -m "$model" -t "$t" --no-timestamps --beam 1 --no-fallback >/dev/null
        o_file=$(($(now_ms) - t0))
        l1=$(load)
        ratio() { if [[ $1 == nan ]]; then echo nan; else echo "$1 / $2" | bc -l; fi; }
        line=$(printf '%-8s %-5s t=%s | enc bench %8.1f cli %8.1f omni %8.1f x%5.2f/x%5.2f | dec ms/tok bench %6.2f cli %6.2f omni %6.2f x%5.2f/x%5.2f | jfk file cli %6d omni %6d x%5.2f | load %s-%s' \
          "$shape" "$type" "$t" "$w_enc" "$c_enc" "$o_enc" "$(ratio "$w_enc" "$o_enc")" \
          "$(ratio "$c_enc" "$o_enc")" "$w_dec" "$c_dec" "$o_dec" "$(ratio "$w_dec" "$o_dec")" \
          "$(ratio "$c_dec" "$o_dec")" "$w_file" "$o_file" "$(ratio "$w_file" "$o_file")" "$l0" "$l1")
        echo "$line"
      done
    done
  done
done
echo "# end load average: $(cut -d' ' -f1-3 /proc/loadavg)"
