#include "pipeline/trace.h"

namespace omni::pipeline {

double Trace::now_ms() const {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0_).count();
}

double Trace::mark(const std::string& stage, const std::string& what, const std::string& detail) {
  std::lock_guard lock(mu_);
  TraceEvent e;
  e.seq = static_cast<int>(events_.size());
  e.t_ms = now_ms();
  e.stage = stage;
  e.what = what;
  e.detail = detail;
  events_.push_back(std::move(e));
  return events_.back().t_ms;
}

std::vector<TraceEvent> Trace::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

TraceEvent Trace::find(const std::string& stage, const std::string& what) const {
  std::lock_guard lock(mu_);
  for (const auto& e : events_) {
    if (e.stage == stage && e.what == what) return e;
  }
  TraceEvent none;
  none.seq = -1;
  return none;
}

nlohmann::ordered_json Trace::to_json() const {
  nlohmann::ordered_json j;
  const auto& s = summary;
  j["voice_to_voice_ms"] = s.voice_to_voice_ms;
  j["speech_end_ms"] = s.speech_end_ms;
  j["first_audio_ms"] = s.first_audio_ms;
  j["stages"] = {{"asr_ms", s.asr_ms},
                 {"image_ms", s.image_ms},
                 {"llm_prompt_ms", s.llm_prompt_ms},
                 {"llm_first_token_ms", s.llm_first_token_ms},
                 {"llm_total_ms", s.llm_total_ms},
                 {"tts_first_chunk_ms", s.tts_first_chunk_ms}};
  j["tokens"] = {{"prompt", s.prompt_tokens},
                 {"reused", s.reused_tokens},
                 {"prefilled", s.prefill_tokens},
                 {"generated", s.generated_tokens},
                 {"at_first_clause", s.first_clause_tokens}};
  j["milestones_ms"] = {{"asr_start", s.asr_start_ms},
                        {"asr_end", s.asr_end_ms},
                        {"first_token", s.first_token_at_ms},
                        {"first_clause", s.first_clause_at_ms}};
  j["speculations"] = {{"started", s.speculations},
                       {"cancelled", s.speculations_cancelled},
                       {"retracted_audio_s", s.retracted_audio_s}};
  j["clauses"] = s.clauses;
  j["input_audio_s"] = s.input_audio_s;
  j["speech_audio_s"] = s.speech_audio_s;
  j["output_audio_s"] = s.output_audio_s;
  auto ev = nlohmann::ordered_json::array();
  for (const auto& e : events()) {
    nlohmann::ordered_json o;
    o["seq"] = e.seq;
    o["t_ms"] = e.t_ms;
    o["stage"] = e.stage;
    o["what"] = e.what;
    if (!e.detail.empty()) o["detail"] = e.detail;
    ev.push_back(std::move(o));
  }
  j["events"] = std::move(ev);
  return j;
}

}  // namespace omni::pipeline
