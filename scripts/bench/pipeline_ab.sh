#!/usr/bin/env bash
# Voice-to-voice A/B at the issue's full shapes, interleaved (A B A B ...) so both settings see
# the same machine load: A = the session-3 behaviour (Whisper's end-of-turn pass over a full
# 30 s window, answer after the whole VAD hangover, first clause capped like the others),
# B = the defaults (fitted end-of-turn context, speculative start at a 200 ms pause, first
# clause cap 150 ms), optionally C = B with a shorter pause threshold.
#
#   scripts/bench/pipeline_ab.sh [BUILD_DIR] [MODELS_DIR] [ROUNDS] [PAUSE_MS_FOR_C]
#
# Each round runs each setting once (one first turn and one later turn); prints one JSON summary
# line per setting and round, and the load average before and after.
set -euo pipefail
build=${1:-build/release}
models=${2:-${TMPDIR:-/tmp}/omni-bench-models}
rounds=${3:-5}
pause_c=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
summary() {
  python3 -c '
import json, sys
text = sys.stdin.read()
j = json.loads(text[text.index("{"):text.rindex("}") + 1])
for m in ("first_turn", "later_turn"):
    t = j[m]
    b = " ".join("%s %.0f" % kv for kv in t["breakdown_p50_ms"].items())
    print(sys.argv[1], m, "v2v %.0f |" % t["voice_to_voice_ms"]["p50"], b, "| new_tokens",
          t["new_prompt_tokens"], "spec", t["speculative_starts"], "cancelled",
          t["speculations_cancelled"], "| load %.2f" % j["load_average_1m"])' "$1"
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; ++r)); do
  "$here/pipeline.sh" "$build" "$models" 1 --asr-final-context full --no-speculate \
    --set pipeline.chunker_first_latency_ms=0 | summary "A/r$r"
  "$here/pipeline.sh" "$build" "$models" 1 | summary "B/r$r"
  if [[ -n $pause_c ]]; then
    "$here/pipeline.sh" "$build" "$models" 1 --vad-pause-ms "$pause_c" | summary "C$pause_c/r$r"
  fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
