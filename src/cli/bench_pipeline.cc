// `omni bench pipeline -m LLM --asr-model WHISPER [--audio Q.wav] [--voice ...] [--runs N]
//  [--json]`: feeds a spoken question in real time through whole turns and reports p50/p90
// voice-to-voice latency (first answer audio sample − last question sample) with the per-stage
// breakdown. Without --audio the question is spoken by espeak-ng first.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "asr/audio_io.h"
#include "cli/command.h"
#include "cli/pipeline_setup.h"
#include "core/error.h"
#include "pipeline/local_tts.h"

namespace omni::cli {
namespace {

struct BenchPipelineArgs {
  PipelineFlags p;
  std::string audio;
  std::string question = "What is the capital of France?";
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
  const asr::Audio q = spoken_question(a);
  LocalPipeline lp = load_pipeline(a.p, true, false, true);
  auto conv = lp.llm->start_conversation(a.p.system);
  const pipeline::TurnOptions opt = turn_options(a.p);
  struct Row {
    double v2v, asr, first_token, prompt, tts_first;
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
    rows.push_back({s.voice_to_voice_ms, s.asr_ms, s.llm_first_token_ms, s.llm_prompt_ms,
                    s.tts_first_chunk_ms, s.prompt_tokens, s.prefill_tokens});
    if (!a.json) {
      std::fprintf(stderr, "run %d: voice-to-voice %.0f ms (asr %.0f, llm first token %.0f, "
                   "tts first chunk %.0f)\n", i + 1, s.voice_to_voice_ms, s.asr_ms,
                   s.llm_first_token_ms, s.tts_first_chunk_ms);
    }
  }
  auto col = [&](auto f) {
    std::vector<double> v;
    for (const auto& r : rows) v.push_back(f(r));
    return v;
  };
  const auto v2v = col([](const Row& r) { return r.v2v; });
  const double asr50 = percentile(col([](const Row& r) { return r.asr; }), 0.5);
  const double ft50 = percentile(col([](const Row& r) { return r.first_token; }), 0.5);
  const double pr50 = percentile(col([](const Row& r) { return r.prompt; }), 0.5);
  const double tts50 = percentile(col([](const Row& r) { return r.tts_first; }), 0.5);
  // first_token counts from speech end, so it includes ASR; the LLM's own share is the rest.
  const double llm50 = ft50 - asr50;
  const double p50 = percentile(v2v, 0.5), p90 = percentile(v2v, 0.9);
  const char* dominant = asr50 >= llm50 && asr50 >= tts50 ? "asr" : llm50 >= tts50 ? "llm" : "tts";
  if (a.json) {
    nlohmann::ordered_json j;
    j["question_audio_s"] = q.seconds();
    j["runs"] = a.runs;
    j["llm"] = lp.llm->name();
    j["asr"] = lp.stt->name();
    j["tts"] = lp.tts->name();
    j["voice_to_voice_ms"] = {{"p50", p50}, {"p90", p90}, {"all", v2v}};
    j["breakdown_p50_ms"] = {{"asr", asr50},
                             {"llm_to_first_token", llm50},
                             {"llm_prompt", pr50},
                             {"tts_first_chunk", tts50}};
    j["prompt_tokens"] = rows.empty() ? 0 : rows.back().prompt_tokens;
    j["prefilled_tokens"] = rows.empty() ? 0 : rows.back().prefill;
    j["dominant_stage"] = dominant;
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("question: %.2f s of speech, fed in real time; %d runs\n", q.seconds(), a.runs);
  std::printf("stages: %s | %s | %s\n", lp.stt->name().c_str(), lp.llm->name().c_str(),
              lp.tts->name().c_str());
  std::printf("voice-to-voice: p50 %.0f ms, p90 %.0f ms\n", p50, p90);
  std::printf("p50 breakdown: asr %.0f ms, llm to first token %.0f ms (prompt %.0f ms, %d new "
              "tokens after %d prefilled), tts first chunk %.0f ms; dominant: %s\n",
              asr50, llm50, pr50, rows.empty() ? 0 : rows.back().prompt_tokens,
              rows.empty() ? 0 : rows.back().prefill, tts50, dominant);
}

const RegisterCommand kRegister([](CLI::App& app) {
  CLI::App* bench = command_group(app, "bench", "Speed measurements of the engines");
  auto a = std::make_shared<BenchPipelineArgs>();
  CLI::App* cmd = bench->add_subcommand("pipeline", "Voice-to-voice latency of whole turns");
  add_pipeline_flags(cmd, a->p);
  cmd->add_option("--audio", a->audio, "the spoken question (default: espeak-ng says --question)");
  cmd->add_option("--question", a->question, "text of the synthesised question");
  cmd->add_option("--runs", a->runs, "turns to time (default 5)")->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", a->json, "print JSON");
  cmd->callback([a] {
    run(*a);
  });
});

}  // namespace
}  // namespace omni::cli
