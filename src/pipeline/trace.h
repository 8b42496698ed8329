// What happened in one turn, for `--trace FILE.json`, the CLI's timings and the benchmark.
// Times are milliseconds on the steady clock since the turn started. Events are recorded from
// several threads (the LLM on the turn's thread, TTS on its worker), so Trace is thread-safe and
// gives each event a sequence number: ordering tests compare sequence numbers, not durations.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/cancel.h"

namespace omni::pipeline {

struct TraceEvent {
  int seq = 0;
  double t_ms = 0;
  std::string stage;  // "input", "asr", "image", "llm", "tts", "audio"
  std::string what;   // "start", "end", "token", "clause", "chunk", "prefill", ...
  std::string detail;
};

struct TraceSummary {
  // The last user speech sample: the VAD's end of speech when the turn runs one, else the moment
  // the input was fully fed.
  double speech_end_ms = -1;
  double first_audio_ms = -1;        // the first response audio sample handed out
  double voice_to_voice_ms = -1;     // first_audio_ms - speech_end_ms (-1 when not measured)
  double asr_ms = 0, image_ms = 0;   // stage durations
  double llm_prompt_ms = 0, llm_first_token_ms = -1, llm_total_ms = 0;
  double tts_first_chunk_ms = -1;    // from the first clause's TTS start to its first chunk
  int prompt_tokens = 0, reused_tokens = 0, prefill_tokens = 0, generated_tokens = 0;
  int clauses = 0;
  double input_audio_s = 0, output_audio_s = 0;
  double speech_audio_s = 0;  // input audio given to ASR (after the VAD ended or trimmed it)
  // Milestones of the answer that was given (ms since the turn started, -1 when not reached):
  // the per-stage breakdown of voice-to-voice is speech end -> asr start (end-of-speech
  // detection) -> asr end -> first LLM token -> first clause to TTS -> first audio.
  double asr_start_ms = -1, asr_end_ms = -1, first_token_at_ms = -1, first_clause_at_ms = -1;
  // Speculative answers started at a pause, and those cancelled because speech resumed.
  int speculations = 0, speculations_cancelled = 0;
  // Audio of cancelled speculative answers that had been handed out (then retracted): heard if a
  // player had started it.
  double retracted_audio_s = 0;
  // LLM tokens generated when the first clause went to TTS (load-independent, unlike its time).
  int first_clause_tokens = -1;
};

class Trace {
 public:
  Trace() : t0_(Clock::now()) {}
  Clock::time_point start() const { return t0_; }
  double now_ms() const;
  // Records an event at the current time; returns its time.
  double mark(const std::string& stage, const std::string& what, const std::string& detail = "");
  std::vector<TraceEvent> events() const;
  // First event matching stage/what, or nullptr-like empty optional (seq -1).
  TraceEvent find(const std::string& stage, const std::string& what) const;

  TraceSummary summary;  // filled by the turn when it ends
  nlohmann::ordered_json to_json() const;

 private:
  Clock::time_point t0_;
  mutable std::mutex mu_;
  std::vector<TraceEvent> events_;
};

}  // namespace omni::pipeline
