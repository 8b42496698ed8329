// `omni bench pipeline -m LLM --asr-model WHISPER [--audio Q.wav] [--voice ...] [--runs N]
//  [--json] [--trace-dir DIR]`: feeds a spoken question in real time through whole turns (each
// on a new conversation: a first turn, and a later turn after one typed exchange) and reports p50/p90
// voice-to-voice latency (first answer audio sample − last question sample) with the per-stage
// breakdown. Without --audio the question is spoken by espeak-ng first.
//
// Honest decode lengths: a random-weight Whisper never samples end-of-text, so it would decode
// every window to the token limit. With a Whisper model the bench therefore caps decoding
// (--asr-max-tokens) at the length a trained model would produce for the question: the reference
// transcript (--question, or --reference for --audio) in Whisper tokens, plus two timestamps and
// end-of-text. Pass --asr-max-tokens 0 to decode uncapped.
//
// Open microphone: --silence-ms of silence follow the question, so the VAD (hangover included)
// ends the turn, not the end of the file; voice-to-voice counts from the last speech sample.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <unordered_set>
#include <utility>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "asr/audio_io.h"
#include "cli/command.h"
#include "cli/pipeline_setup.h"
#include "core/error.h"
#include "pipeline/local_tts.h"
#include "pipeline/local_whisper.h"

namespace omni::cli {
namespace {

struct BenchPipelineArgs {
  PipelineFlags p;
  std::string audio;
  std::string question = "What is the capital of France?";
  std::string reference;  // transcript of --audio
  int silence_ms = 1000;
  int runs = 5;
  bool json = false;
  std::string trace_dir;  // --trace-dir: each turn's trace as JSON
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

// Length of `text` in Whisper text tokens: greedy longest match over the vocabulary (close to
// the BPE count, which is all the cap needs).
int whisper_token_count(const asr::WhisperModel& m, const std::string& text) {
  std::unordered_set<std::string> vocab;
  size_t longest = 1;
  for (int32_t id = 0; id < m.tokens().eot; ++id) {
    const std::string& t = m.token_text(id);
    if (t.empty()) continue;
    vocab.insert(t);
    longest = std::max(longest, t.size());
  }
  const std::string s = " " + text;  // Whisper's text starts with a space
  int n = 0;
  for (size_t i = 0; i < s.size();) {
    size_t len = std::min(longest, s.size() - i);
    while (len > 1 && !vocab.contains(s.substr(i, len))) --len;
    i += len;
    ++n;
  }
  return n;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  if (!f || !(f << text)) throw Error(path + ": cannot write the trace");
}

asr::Audio spoken_question(const BenchPipelineArgs& a) {
  if (!a.audio.empty()) return asr::load_audio_file(a.audio);
  pipeline::EspeakTts tts(a.p.language == "ko" ? "ko" : "en-us");
  asr::Audio out;
  out.sample_rate = tts.sample_rate();
  tts.synthesize(a.question, {}, pipeline::CancelToken(), [&](const pipeline::AudioChunk& c) {
    out.samples.insert(out.samples.end(), c.samples.begin(), c.samples.end());
    return true;
  });
  return out;
}

struct Row {
  double v2v = -1;
  // The breakdown: speech end -> end of speech decided (VAD hangover, or the pause of a
  // speculative start) -> ASR result -> first LLM token -> first clause -> first audio.
  double endpoint = 0, asr = 0, llm = 0, clause = 0, tts = 0;
  int new_tokens = 0, reused = 0, prefilled = 0, speculations = 0, cancelled = 0;
  double retracted_s = 0;  // audio of cancelled guesses that was handed out
  int clause_tokens = -1;  // LLM tokens when the first clause went to TTS
};

Row row_of(const pipeline::TraceSummary& s) {
  Row r;
  r.v2v = s.voice_to_voice_ms;
  r.endpoint = s.asr_start_ms - s.speech_end_ms;
  r.asr = s.asr_end_ms - s.asr_start_ms;
  r.llm = s.first_token_at_ms - s.asr_end_ms;
  r.clause = s.first_clause_at_ms - s.first_token_at_ms;
  r.tts = s.first_audio_ms - s.first_clause_at_ms;
  r.new_tokens = s.prompt_tokens;
  r.reused = s.reused_tokens;
  r.prefilled = s.prefill_tokens;
  r.speculations = s.speculations;
  r.cancelled = s.speculations_cancelled;
  r.retracted_s = s.retracted_audio_s;
  r.clause_tokens = s.first_clause_tokens;
  return r;
}

struct ModeStats {
  std::vector<double> v2v;
  double p50 = 0, p90 = 0, endpoint = 0, asr = 0, llm = 0, clause = 0, tts = 0;
  const char* dominant = "";
  Row last;
  int speculations = 0, cancelled = 0;
  double retracted_s = 0;
  double clause_tokens = 0;  // p50
};

ModeStats stats_of(const std::vector<Row>& rows) {
  ModeStats m;
  auto col = [&](auto f) {
    std::vector<double> v;
    for (const auto& r : rows) v.push_back(f(r));
    return percentile(v, 0.5);
  };
  for (const auto& r : rows) {
    m.v2v.push_back(r.v2v);
    m.speculations += r.speculations;
    m.cancelled += r.cancelled;
    m.retracted_s += r.retracted_s;
  }
  m.p50 = percentile(m.v2v, 0.5);
  m.p90 = percentile(m.v2v, 0.9);
  m.endpoint = col([](const Row& r) { return r.endpoint; });
  m.asr = col([](const Row& r) { return r.asr; });
  m.llm = col([](const Row& r) { return r.llm; });
  m.clause = col([](const Row& r) { return r.clause; });
  m.tts = col([](const Row& r) { return r.tts; });
  m.clause_tokens = col([](const Row& r) { return double(r.clause_tokens); });
  const std::pair<const char*, double> shares[] = {{"end of speech detection", m.endpoint},
                                                   {"asr", m.asr},
                                                   {"llm to first token", m.llm},
                                                   {"first clause", m.clause},
                                                   {"tts", m.tts}};
  m.dominant = std::max_element(std::begin(shares), std::end(shares), [](auto& x, auto& y) {
                 return x.second < y.second;
               })->first;
  if (!rows.empty()) m.last = rows.back();
  return m;
}

void run(const BenchPipelineArgs& a) {
  asr::Audio q = spoken_question(a);
  if (a.silence_ms > 0) {
    q.samples.resize(q.samples.size() + static_cast<size_t>(q.sample_rate) *
                                            static_cast<size_t>(q.channels) *
                                            static_cast<size_t>(a.silence_ms) / 1000, 0.0f);
  }
  LocalPipeline lp = load_pipeline(a.p, true, false, true);
  pipeline::TurnOptions opt = turn_options(a.p);
  const auto* whisper = dynamic_cast<const pipeline::WhisperStt*>(lp.stt.get());
  if (whisper && !a.p.cmd->count("--asr-max-tokens")) {
    const std::string ref = a.audio.empty() ? a.question : a.reference;
    if (ref.empty()) {
      throw Error("bench pipeline: give --reference TEXT (the transcript of --audio) so a "
                  "random-weight Whisper decodes a trained model's length, or --asr-max-tokens N");
    }
    opt.stt.max_decode_tokens = whisper_token_count(whisper->model(), ref) + 3;
  }
  // Honest KV cache: every run starts a new conversation, so nothing of the spoken question is
  // cached from an earlier run. "first turn": the conversation is new (the system prompt is
  // prefilled while the user speaks, as designed); "later turn": one earlier exchange (a typed
  // greeting and its answer) is in the conversation and its KV cache. Either way the question's
  // words are new tokens to evaluate once they are known.
  std::vector<Row> first, later;
  for (int i = 0; i < a.runs; ++i) {
    for (int mode = 0; mode < 2; ++mode) {
      auto conv = lp.llm->start_conversation(a.p.system);
      if (mode == 1) {
        pipeline::TurnInput hello;
        hello.text = "Hello! Who are you? (turn " + std::to_string(i + 1) + ")";
        pipeline::TurnOptions quiet = opt;
        pipeline::Trace t0;
        pipeline::run_turn({nullptr, nullptr, nullptr, nullptr}, *conv, hello, quiet,
                           pipeline::CancelToken(), t0);
      }
      pipeline::TurnInput in;
      in.audio = q;
      in.realtime = true;
      pipeline::Trace trace;
      pipeline::run_turn(lp.stages(), *conv, in, opt, pipeline::CancelToken(), trace);
      if (!a.trace_dir.empty()) {
        write_file(a.trace_dir + "/run" + std::to_string(i + 1) + (mode ? "-later" : "-first") +
                       ".json",
                   trace.to_json().dump(1, ' ', false, nlohmann::json::error_handler_t::replace));
      }
      const Row r = row_of(trace.summary);
      (mode ? later : first).push_back(r);
      if (!a.json) {
        std::fprintf(stderr,
                     "run %d %s turn: voice-to-voice %.0f ms (end of speech %.0f, asr %.0f, llm "
                     "first token %.0f, first clause %.0f, tts %.0f; %d new tokens, %d prefilled "
                     "during speech, %d speculative starts, %d cancelled)\n",
                     i + 1, mode ? "later" : "first", r.v2v, r.endpoint, r.asr, r.llm, r.clause,
                     r.tts, r.new_tokens, r.prefilled, r.speculations, r.cancelled);
      }
    }
  }
  const ModeStats f = stats_of(first), l = stats_of(later);
  double load[3] = {-1, -1, -1};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  const bool spec = opt.speculate && opt.vad && opt.vad->pause_ms > 0 &&
                    opt.vad->pause_ms < opt.vad->hangover_ms;
  if (a.json) {
    nlohmann::ordered_json j;
    j["question_audio_s"] = q.seconds();
    j["silence_after_ms"] = a.silence_ms;
    j["vad"] = opt.vad.has_value();
    j["vad_hangover_ms"] = opt.vad ? opt.vad->hangover_ms : 0;
    j["speculative_pause_ms"] = spec ? opt.vad->pause_ms : 0;
    j["speculative_hold_ms"] = spec ? opt.speculative_hold_ms : 0;
    j["first_clause_words"] = opt.chunker.first_words;
    j["first_clause_cap_ms"] = opt.chunker.first_max_wait.count();
    j["asr_final_context"] = whisper ? (whisper->fitted_context() ? "fitted" : "full") : "-";
    j["asr_max_decode_tokens"] = opt.stt.max_decode_tokens;
    j["load_average_1m"] = load[0];
    j["runs"] = a.runs;
    j["llm"] = lp.llm->name();
    j["asr"] = lp.stt->name();
    j["tts"] = lp.tts->name();
    auto mode_json = [](const ModeStats& m) {
      nlohmann::ordered_json o;
      o["voice_to_voice_ms"] = {{"p50", m.p50}, {"p90", m.p90}, {"all", m.v2v}};
      o["breakdown_p50_ms"] = {{"end_of_speech_detection", m.endpoint},
                               {"asr", m.asr},
                               {"llm_to_first_token", m.llm},
                               {"first_token_to_first_clause", m.clause},
                               {"tts_first_audio", m.tts}};
      o["new_prompt_tokens"] = m.last.new_tokens;
      o["reused_tokens"] = m.last.reused;
      o["prefilled_during_speech"] = m.last.prefilled;
      o["speculative_starts"] = m.speculations;
      o["speculations_cancelled"] = m.cancelled;
      o["retracted_audio_s"] = m.retracted_s;
      o["first_clause_tokens_p50"] = m.clause_tokens;
      o["dominant_stage"] = m.dominant;
      return o;
    };
    j["first_turn"] = mode_json(f);
    j["later_turn"] = mode_json(l);
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("question: %.2f s of audio (%d ms of it silence after the speech), fed in real "
              "time%s; %d runs per mode; asr decode cap %d tokens; load average %.2f\n",
              q.seconds(), a.silence_ms, opt.vad ? ", VAD ends the turn" : "", a.runs,
              opt.stt.max_decode_tokens, load[0]);
  std::printf("stages: %s | %s | %s\n", lp.stt->name().c_str(), lp.llm->name().c_str(),
              lp.tts->name().c_str());
  std::printf("end of speech: hangover %d ms, speculative start %s\n",
              opt.vad ? opt.vad->hangover_ms : 0,
              spec ? ("after " + std::to_string(opt.vad->pause_ms) + " ms of silence").c_str()
                   : "off");
  for (int mode = 0; mode < 2; ++mode) {
    const ModeStats& m = mode ? l : f;
    std::printf("%s turn: voice-to-voice p50 %.0f ms, p90 %.0f ms\n", mode ? "later" : "first",
                m.p50, m.p90);
    std::printf("  p50 breakdown: end of speech detection %.0f ms, asr %.0f ms, llm to first "
                "token %.0f ms (%d new tokens; %d reused, %d prefilled during speech), first "
                "clause %.0f ms, tts %.0f ms; dominant: %s; speculative starts %d, cancelled %d\n",
                m.endpoint, m.asr, m.llm, m.last.new_tokens, m.last.reused, m.last.prefilled,
                m.clause, m.tts, m.dominant, m.speculations, m.cancelled);
  }
}

const RegisterCommand kRegister([](CLI::App& app) {
  CLI::App* bench = command_group(app, "bench", "Speed measurements of the engines");
  auto a = std::make_shared<BenchPipelineArgs>();
  CLI::App* cmd = bench->add_subcommand("pipeline", "Voice-to-voice latency of whole turns");
  add_pipeline_flags(cmd, a->p);
  cmd->add_option("--audio", a->audio, "the spoken question (default: espeak-ng says --question)");
  cmd->add_option("--question", a->question, "text of the synthesised question");
  cmd->add_option("--reference", a->reference,
                  "transcript of --audio (its length caps Whisper's decoding, see above)");
  cmd->add_option("--silence-ms", a->silence_ms,
                  "silence after the question, so the VAD ends the turn (default 1000)")
      ->check(CLI::Range(0, 10000));
  cmd->add_option("--runs", a->runs, "turns to time (default 5)")->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", a->json, "print JSON");
  cmd->add_option("--trace-dir", a->trace_dir, "write each timed turn's trace (JSON) here");
  cmd->callback([a] {
    apply_config(a->p);
    run(*a);
  });
});

}  // namespace
}  // namespace omni::cli
