#!/usr/bin/env bash
# Voice-to-voice A/B(/C...) interleaved (A B A B ...), so every setting sees the same machine
# load. Each setting is LABEL=FLAGS, the flags given to `omni bench pipeline` through
# pipeline.sh (an empty FLAGS means the current defaults), or one of the named settings below
# by its bare name. Without settings it compares all three named ones:
#   s3  the session-3 behaviour (end-of-turn Whisper pass over a full 30 s window, answer after
#       the whole VAD hangover, no first-clause cap),
#   s4  the session-4 defaults (speculative start at a 200 ms pause, its audio not held, first
#       clause capped at 150 ms, no word rule),
#   now the current defaults.
#
#   scripts/bench/pipeline_ab.sh [BUILD_DIR] [MODELS_DIR] [ROUNDS] [LABEL=FLAGS ...]
#   e.g. scripts/bench/pipeline_ab.sh build/release DIR 3 s4 now 'p90=--vad-pause-ms 90'
#
# Each round runs each setting once (one first turn and one later turn); prints one line per
# setting, turn and round, and the load average before and after.
set -euo pipefail
build=${1:-build/release}
models=${2:-${TMPDIR:-/tmp}/omni-bench-models}
rounds=${3:-5}
shift $(($# < 3 ? $# : 3))
declare -A named=(
  [s3]="--asr-final-context full --no-speculate --set pipeline.chunker_first_latency_ms=0 --set pipeline.chunker_first_words=0"
  [s4]="--vad-pause-ms 200 --set pipeline.speculative_hold_ms=0 --set pipeline.chunker_first_latency_ms=150 --set pipeline.chunker_first_words=0"
  [now]=""
)
(($# > 0)) || set -- s3 s4 now
settings=()
for s in "$@"; do
  if [[ $s != *=* ]]; then
    [[ -v named[$s] ]] || { echo "unknown setting '$s' (named: s3 s4 now)" >&2; exit 2; }
    s="$s=${named[$s]}"
  fi
  settings+=("$s")
done
here=$(cd "$(dirname "$0")" && pwd)
summary() {
  python3 -c '
import json, sys
text = sys.stdin.read()
j = json.loads(text[text.index("{"):text.rindex("}") + 1])
for m in ("first_turn", "later_turn"):
    t = j[m]
    b = " ".join("%s %.0f" % kv for kv in t["breakdown_p50_ms"].items())
    print(sys.argv[1], m, "v2v %.0f |" % t["voice_to_voice_ms"]["p50"], b, "| clause_tokens",
          t["first_clause_tokens_p50"], "new_tokens", t["new_prompt_tokens"], "spec",
          t["speculative_starts"], "cancelled", t["speculations_cancelled"], "retracted_s",
          t["retracted_audio_s"], "| load %.2f" % j["load_average_1m"])' "$1"
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; ++r)); do
  for s in "${settings[@]}"; do
    label=${s%%=*}
    read -r -a flags <<<"${s#*=}"
    "$here/pipeline.sh" "$build" "$models" 1 "${flags[@]}" | summary "$label/r$r"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
