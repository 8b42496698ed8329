// `omni bench pipeline -m LLM --asr-model WHISPER [--audio Q.wav] [--voice ...] [--runs N]
//  [--json]`: feeds a spoken question in real time through whole turns and reports p50/p90
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

void run(const BenchPipelineArgs& a) {
  asr::Audio q = spoken_question(a);
  if (a.silence_ms > 0) {
    q.samples.resize(q.samples.size() + static_cast<size_t>(q.sample_rate) *
                                            static_cast<size_t>(q.channels) *
                                            static_cast<size_t>(a.silence_ms) / 1000, 0.0f);
  }
  LocalPipeline lp = load_pipeline(a.p, true, false, true);
  auto conv = lp.llm->start_conversation(a.p.system);
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
  struct Row {
    double v2v, vad_wait, asr, first_token, prompt, tts_first;
    int prompt_tokens, prefill;
  };
  std::vector<Row> rows;
  for (int i = 0; i < a.runs; ++i) {
    conv->reset();  // every run is the same first turn (the system prompt may stay cached)
    pipeline::TurnInput in;
    in.audio = q;
    in.realtime = true;
    pipeline::Trace trace;
    pipeline::run_turn(lp.stages(), *conv, in, opt, pipeline::CancelToken(), trace);
    const auto& s = trace.summary;
    // From the last speech sample to the VAD's decision (its hangover), when a VAD ends the turn.
    const double vad_wait = std::max(0.0, trace.find("input", "end").t_ms - s.speech_end_ms);
    rows.push_back({s.voice_to_voice_ms, vad_wait, s.asr_ms, s.llm_first_token_ms, s.llm_prompt_ms,
                    s.tts_first_chunk_ms, s.prompt_tokens, s.prefill_tokens});
    if (!a.json) {
      std::fprintf(stderr, "run %d: voice-to-voice %.0f ms (vad wait %.0f, asr %.0f, llm first "
                   "token %.0f, tts first chunk %.0f)\n", i + 1, s.voice_to_voice_ms, vad_wait, s.asr_ms,
                   s.llm_first_token_ms, s.tts_first_chunk_ms);
    }
  }
  auto col = [&](auto f) {
    std::vector<double> v;
    for (const auto& r : rows) v.push_back(f(r));
    return v;
  };
  const auto v2v = col([](const Row& r) { return r.v2v; });
  const double vad50 = percentile(col([](const Row& r) { return r.vad_wait; }), 0.5);
  const double asr50 = percentile(col([](const Row& r) { return r.asr; }), 0.5);
  const double ft50 = percentile(col([](const Row& r) { return r.first_token; }), 0.5);
  const double pr50 = percentile(col([](const Row& r) { return r.prompt; }), 0.5);
  const double tts50 = percentile(col([](const Row& r) { return r.tts_first; }), 0.5);
  // first_token counts from speech end, so it includes the VAD wait and ASR; the LLM's own
  // share is the rest.
  const double llm50 = ft50 - asr50 - vad50;
  const double p50 = percentile(v2v, 0.5), p90 = percentile(v2v, 0.9);
  const std::pair<const char*, double> shares[] = {
      {"vad hangover", vad50}, {"asr", asr50}, {"llm", llm50}, {"tts", tts50}};
  const char* dominant = std::max_element(std::begin(shares), std::end(shares), [](auto& x, auto& y) {
                           return x.second < y.second;
                         })->first;
  if (a.json) {
    nlohmann::ordered_json j;
    double load[3] = {-1, -1, -1};
    if (getloadavg(load, 3) < 0) load[0] = -1;
    j["question_audio_s"] = q.seconds();
    j["silence_after_ms"] = a.silence_ms;
    j["vad"] = opt.vad.has_value();
    j["asr_max_decode_tokens"] = opt.stt.max_decode_tokens;
    j["load_average_1m"] = load[0];
    j["runs"] = a.runs;
    j["llm"] = lp.llm->name();
    j["asr"] = lp.stt->name();
    j["tts"] = lp.tts->name();
    j["voice_to_voice_ms"] = {{"p50", p50}, {"p90", p90}, {"all", v2v}};
    j["breakdown_p50_ms"] = {{"vad_hangover", vad50},
                             {"asr", asr50},
                             {"llm_to_first_token", llm50},
                             {"llm_prompt", pr50},
                             {"tts_first_chunk", tts50}};
    j["prompt_tokens"] = rows.empty() ? 0 : rows.back().prompt_tokens;
    j["prefilled_tokens"] = rows.empty() ? 0 : rows.back().prefill;
    j["dominant_stage"] = dominant;
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  double load[1] = {-1};
  if (getloadavg(load, 1) < 0) load[0] = -1;
  std::printf("question: %.2f s of audio (%d ms of it silence after the speech), fed in real "
              "time%s; %d runs; asr decode cap %d tokens; load average %.2f\n",
              q.seconds(), a.silence_ms, opt.vad ? ", VAD ends the turn" : "", a.runs,
              opt.stt.max_decode_tokens, load[0]);
  std::printf("stages: %s | %s | %s\n", lp.stt->name().c_str(), lp.llm->name().c_str(),
              lp.tts->name().c_str());
  std::printf("voice-to-voice: p50 %.0f ms, p90 %.0f ms\n", p50, p90);
  std::printf("p50 breakdown: vad hangover %.0f ms, asr %.0f ms, llm to first token %.0f ms (prompt %.0f ms, %d new "
              "tokens after %d prefilled), tts first chunk %.0f ms; dominant: %s\n",
              vad50, asr50, llm50, pr50, rows.empty() ? 0 : rows.back().prompt_tokens,
              rows.empty() ? 0 : rows.back().prefill, tts50, dominant);
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
  cmd->callback([a] {
    apply_config(a->p);
    run(*a);
  });
});

}  // namespace
}  // namespace omni::cli
