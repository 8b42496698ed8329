#!/usr/bin/env bash
# Voice-to-voice A/B, interleaved (A B A B ...) so both settings see the same machine load:
# A = the session-4 defaults (speculative start at a 200 ms pause, its audio not held, first
# clause capped at 150 ms, no word rule), B = the session-5 defaults (pause 120 ms, speculative
# audio held until 250 ms of silence, first clause after 4 words or 80 ms).
#
#   scripts/bench/pipeline_s5.sh [BUILD_DIR] [MODELS_DIR] [ROUNDS]
#
# Each round runs each setting once (one first turn and one later turn); prints one line per
# setting, turn and round (p50 of that round's single run), and the load average before and after.
set -euo pipefail
build=${1:-build/release}
models=${2:-${TMPDIR:-/tmp}/omni-bench-models}
rounds=${3:-5}
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
          t["first_clause_tokens_p50"], "spec", t["speculative_starts"], "cancelled",
          t["speculations_cancelled"], "retracted_s", t["retracted_audio_s"],
          "| load %.2f" % j["load_average_1m"])' "$1"
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; ++r)); do
  "$here/pipeline.sh" "$build" "$models" 1 --vad-pause-ms 200 \
    --set pipeline.speculative_hold_ms=0 --set pipeline.chunker_first_latency_ms=150 \
    --set pipeline.chunker_first_words=0 | summary "A/r$r"
  "$here/pipeline.sh" "$build" "$models" 1 | summary "B/r$r"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
