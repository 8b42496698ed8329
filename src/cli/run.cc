// `omni run [--audio Q.wav] [--image I.png] [--text "..."] -m LLM [--asr-model WHISPER]
//  [--voice espeak:en|espeak:ko|FILE.onnx] [--out A.wav] [--json] [--trace F.json] [--realtime]`
// One voice turn from files: prints the transcript, the answer and the timings, writes the
// spoken answer.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "asr/audio_io.h"
#include "cli/command.h"
#include "cli/pipeline_setup.h"
#include "core/error.h"

namespace omni::cli {
namespace {

struct RunArgs {
  PipelineFlags p;
  std::string audio, image, text, out, trace;
  bool json = false;
  bool realtime = false;
  bool no_speech = false;
};

void run(const RunArgs& a) {
  if (a.audio.empty() && a.text.empty() && a.image.empty()) {
    throw Error("omni run: give --audio, --text and/or --image");
  }
  pipeline::TurnInput in;
  if (!a.audio.empty()) in.audio = asr::load_audio_file(a.audio);
  if (!a.image.empty()) in.image = pipeline::ImageInput::from_file(a.image);
  in.text = a.text;
  in.realtime = a.realtime;
  const bool speak = !a.no_speech;
  LocalPipeline lp = load_pipeline(a.p, in.audio.has_value(), in.image.has_value(), speak);
  auto conv = lp.llm->start_conversation(a.p.system);
  pipeline::Trace trace;
  const pipeline::TurnResult r =
      pipeline::run_turn(lp.stages(), *conv, in, turn_options(a.p), pipeline::CancelToken(), trace);
  if (!a.out.empty()) {
    if (r.audio.empty()) throw Error("omni run: no answer audio to write (empty answer?)");
    write_answer_wav(a.out, r.audio, r.sample_rate);
  }
  const auto& s = trace.summary;
  if (!a.trace.empty()) {
    std::ofstream f(a.trace);
    if (!f) throw Error(a.trace + ": cannot write the trace");
    f << trace.to_json().dump(2) << "\n";
  }
  if (a.json) {
    nlohmann::ordered_json j;
    j["transcript"] = r.transcript;
    if (in.image) j["image_text"] = r.image_text;
    j["prompt"] = r.prompt;
    j["answer"] = r.answer;
    j["clauses"] = r.clauses;
    j["finish_reason"] = r.finish_reason;
    j["answer_audio_s"] = s.output_audio_s;
    if (!a.out.empty()) j["out"] = a.out;
    auto t = trace.to_json();
    t.erase("events");
    j["timings"] = t;
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  if (in.audio) std::printf("transcript: %s\n", r.transcript.c_str());
  if (in.image) std::printf("image text: %s\n", r.image_text.c_str());
  std::printf("answer: %s\n", r.answer.c_str());
  std::printf(
      "timings: asr %.0f ms, llm prompt %.0f ms (%d new + %d cached + %d prefilled tokens), "
      "first token %.0f ms after speech end, %d tokens in %.0f ms, %d clauses",
      s.asr_ms, s.llm_prompt_ms, s.prompt_tokens, s.reused_tokens, s.prefill_tokens,
      s.llm_first_token_ms, s.generated_tokens, s.llm_total_ms, s.clauses);
  if (speak) {
    std::printf(", tts first chunk %.0f ms, voice-to-voice %.0f ms, %.2f s of audio",
                s.tts_first_chunk_ms, s.voice_to_voice_ms, s.output_audio_s);
  }
  std::printf("\n");
  if (!a.out.empty()) std::printf("wrote %s\n", a.out.c_str());
}

const RegisterCommand kRegister([](CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "One voice turn: speech/text [+ image] in, spoken answer out");
  add_pipeline_flags(cmd, a->p);
  cmd->add_option("--audio", a->audio, "the spoken question (WAV, FLAC, Ogg, MP3, ...)");
  cmd->add_option("--image", a->image, "an image to ask about (PNG, JPEG, ...)");
  cmd->add_option("--text", a->text, "typed question (added after the transcript)");
  cmd->add_option("-o,--out", a->out, "write the spoken answer here (16-bit WAV)");
  cmd->add_option("--trace", a->trace, "write the turn's trace (JSON) here");
  cmd->add_flag("--json", a->json, "print the result as JSON");
  cmd->add_flag("--realtime", a->realtime,
                "feed the audio at real-time pace (latency as with a live microphone)");
  cmd->add_flag("--no-speech", a->no_speech, "text answer only (no TTS)");
  cmd->callback([a] {
    apply_config(a->p);
    run(*a);
  });
});

}  // namespace
}  // namespace omni::cli
