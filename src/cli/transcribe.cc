// `omni transcribe FILE [-m MODEL] [--engine whisper|pocketsphinx] [--json | --format F]
// [--no-timestamps] [-l LANG] [-t THREADS] [--stream]`: speech to text with our Whisper engine,
// or with PocketSphinx when no Whisper model is given. FILE "-" reads the audio file from stdin.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "asr/audio_io.h"
#include "asr/pocketsphinx.h"
#include "asr/resample.h"
#include "asr/whisper.h"
#include "asr/whisper_stream.h"
#include "cli/command.h"
#include "core/error.h"
#include "server/transcription.h"

namespace omni::cli {
namespace {

struct TranscribeArgs {
  std::string input;
  std::string model;
  std::string language = "en";
  std::string engine;  // "" = whisper with -m, else pocketsphinx
  std::string format;  // "" = whisper.cpp-style lines (or --json)
  bool json = false;
  bool no_timestamps = false;
  bool translate = false;
  int threads = 0;
  bool stream = false;
  double step_s = 0.5;
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

// --stream: feeds the file in 100 ms chunks (as fast as decoding allows) and prints every partial
// update: one JSON line each with --json, else stable + [tentative] text rewritten in place.
void run_stream(const TranscribeArgs& a, asr::Transcriber& tr, const asr::Audio& audio,
                const asr::TranscribeOptions& opt) {
  const asr::Audio in = asr::to_whisper_input(audio);
  asr::StreamingOptions so;
  so.transcribe = opt;
  so.step_s = a.step_s;
  const bool tty = isatty(fileno(stdout)) != 0;
  asr::StreamingTranscriber st(tr, so, [&](const asr::Partial& p) {
    if (a.json) {
      const nlohmann::json j = {{"stable", p.stable},         {"tentative", p.tentative},
                                {"final", p.final},           {"audio_s", p.audio_s},
                                {"compute_ms", p.compute_ms}, {"latency_ms", p.latency_ms}};
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else if (p.final) {
      std::printf(tty ? "\r\033[K%s\n" : "%s\n", p.stable.c_str());
    } else if (tty) {
      std::printf("\r\033[K%s[%s]", p.stable.c_str(), p.tentative.c_str());
    } else {
      std::printf("%s[%s]\n", p.stable.c_str(), p.tentative.c_str());
    }
    std::fflush(stdout);
  });
  const std::span<const float> pcm(in.samples);
  for (size_t i = 0; i < pcm.size(); i += 1600) {
    st.feed(pcm.subspan(i, std::min<size_t>(1600, pcm.size() - i)));
  }
  st.finish();
}

void run(const TranscribeArgs& a) {
  const asr::Audio audio = a.input == "-" ? asr::load_audio_stream(stdin)
                                          : asr::load_audio_file(a.input);
  const std::string engine = !a.engine.empty() ? a.engine : a.model.empty() ? "pocketsphinx" : "whisper";
  asr::Transcript t;
  if (engine == "pocketsphinx") {
    if (a.stream) throw Error("--stream is implemented for Whisper models (-m) only");
    if (a.language != "en" || a.translate) {
      throw Error("pocketsphinx recognises English only; give a multilingual Whisper model (-m)");
    }
    asr::Pocketsphinx ps;
    const auto r = ps.recognize(audio);
    asr::WhisperSegment seg;
    seg.t0 = r.words.empty() ? 0 : static_cast<int64_t>(r.words.front().t0 * 100);
    seg.t1 = r.words.empty() ? static_cast<int64_t>(audio.seconds() * 100)
                             : static_cast<int64_t>(r.words.back().t1 * 100 + 0.5);
    seg.text = r.text;
    t.text = r.text;
    if (!r.text.empty()) t.segments.push_back(seg);
  } else {
    if (a.model.empty()) throw Error("--engine whisper needs a model: -m ggml-MODEL.bin");
    asr::Transcriber tr(a.model, a.threads);
    asr::TranscribeOptions opt;
    opt.language = a.language;
    opt.no_timestamps = a.no_timestamps;
    opt.translate = a.translate;
    if (a.stream) return run_stream(a, tr, audio, opt);
    t = tr.transcribe(audio, opt);
  }
  if (!a.format.empty()) {
    // The same writers as the server's /v1/audio/transcriptions.
    const auto f = server::parse_transcript_format(a.format);
    const auto out = server::format_transcript(t, f, a.translate ? "translate" : "transcribe",
                                               a.language, audio.seconds());
    std::printf("%s", out.body.c_str());
    if (!out.body.empty() && out.body.back() != '\n') std::printf("\n");
  } else if (a.json) {
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
  CLI::App* cmd = app.add_subcommand("transcribe", "Speech to text (Whisper model or PocketSphinx)");
  cmd->add_option("file", args->input, "Audio file (WAV, FLAC, Ogg, MP3, ...; - for stdin)")
      ->required();
  cmd->add_option("-m,--model", args->model, "Whisper model (whisper.cpp ggml .bin)");
  cmd->add_option("--engine", args->engine,
                  "whisper (needs -m) or pocketsphinx (English, no download; default without -m)")
      ->check(CLI::IsMember({"whisper", "pocketsphinx"}));
  cmd->add_option("--format", args->format, "Output as json, text, srt, vtt or verbose_json")
      ->check(CLI::IsMember({"json", "text", "srt", "vtt", "verbose_json"}));
  cmd->add_flag("--json", args->json, "Print JSON {text, segments:[{t0,t1,text,tokens}]}");
  cmd->add_flag("--no-timestamps", args->no_timestamps, "Decode without timestamp tokens");
  cmd->add_flag("--translate", args->translate, "Translate to English (multilingual models)");
  cmd->add_option("-l,--language", args->language, "Spoken language code (en, de, ...)");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all cores)")
      ->check(CLI::Range(1, 256));
  cmd->add_flag("--stream", args->stream, "Streaming decode: print partial results as they form");
  cmd->add_option("--step", args->step_s, "Streaming step in seconds (default 0.5)")
      ->check(CLI::Range(0.05, 30.0));
  cmd->callback([args] { run(*args); });
});

}  // namespace
}  // namespace omni::cli
