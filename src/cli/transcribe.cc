// `omni transcribe FILE -m MODEL [--json] [--no-timestamps] [-l LANG] [-t THREADS]`: speech to
// text with our Whisper engine. FILE "-" reads the audio file from stdin.
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "asr/audio_io.h"
#include "asr/whisper.h"
#include "cli/command.h"

namespace omni::cli {
namespace {

struct TranscribeArgs {
  std::string input;
  std::string model;
  std::string language = "en";
  bool json = false;
  bool no_timestamps = false;
  bool translate = false;
  int threads = 0;
};

// Timestamps like whisper.cpp's output, [hh:mm:ss.mmm --> ...].
std::string stamp(int64_t cs) {
  if (cs < 0) cs = 0;
  const int64_t ms = cs * 10;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld.%03lld",
                static_cast<long long>(ms / 3600000), static_cast<long long>(ms / 60000 % 60),
                static_cast<long long>(ms / 1000 % 60), static_cast<long long>(ms % 1000));
  return buf;
}

void run(const TranscribeArgs& a) {
  const asr::Audio audio = a.input == "-" ? asr::load_audio_stream(stdin)
                                          : asr::load_audio_file(a.input);
  asr::Transcriber tr(a.model, a.threads);
  asr::TranscribeOptions opt;
  opt.language = a.language;
  opt.no_timestamps = a.no_timestamps;
  opt.translate = a.translate;
  const asr::Transcript t = tr.transcribe(audio, opt);
  if (a.json) {
    nlohmann::json j;
    j["text"] = t.text;
    j["segments"] = nlohmann::json::array();
    for (const auto& s : t.segments) {
      nlohmann::json tokens = nlohmann::json::array();
      for (const auto& tok : s.tokens) tokens.push_back(tok.id);
      j["segments"].push_back({{"t0", s.t0}, {"t1", s.t1}, {"text", s.text}, {"tokens", tokens}});
    }
    // Token pieces can split UTF-8 sequences; replace invalid bytes instead of failing.
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else if (a.no_timestamps) {
    std::printf("%s\n", t.text.c_str());
  } else {
    for (const auto& s : t.segments) {
      std::printf("[%s --> %s] %s\n", stamp(s.t0).c_str(), stamp(s.t1).c_str(), s.text.c_str());
    }
  }
}

const RegisterCommand kRegister([](CLI::App& app) {
  auto args = std::make_shared<TranscribeArgs>();
  CLI::App* cmd = app.add_subcommand("transcribe", "Speech to text (Whisper ggml model)");
  cmd->add_option("file", args->input, "Audio file (WAV, FLAC, Ogg, MP3, ...; - for stdin)")
      ->required();
  cmd->add_option("-m,--model", args->model, "Whisper model (whisper.cpp ggml .bin)")->required();
  cmd->add_flag("--json", args->json, "Print JSON {text, segments:[{t0,t1,text,tokens}]}");
  cmd->add_flag("--no-timestamps", args->no_timestamps, "Decode without timestamp tokens");
  cmd->add_flag("--translate", args->translate, "Translate to English (multilingual models)");
  cmd->add_option("-l,--language", args->language, "Spoken language code (en, de, ...)");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all cores)")
      ->check(CLI::Range(1, 256));
  cmd->callback([args] { run(*args); });
});

}  // namespace
}  // namespace omni::cli
