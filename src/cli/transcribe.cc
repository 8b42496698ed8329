// `omni transcribe FILE... [-m MODEL] [--engine whisper|pocketsphinx] [--format F] [-o DIR]
// [-l auto|en|ko|...] [--task transcribe|translate] [--beam N] [--best-of N] [--prompt TEXT]
// [--temperature T] [--no-fallback] [--no-timestamps] [-t THREADS] [--stream]`: speech to text
// with our Whisper engine, or with PocketSphinx when no Whisper model is given. FILE "-" reads
// the audio file from stdin. Decoding defaults are whisper-cli's: beam 5, temperature fallback.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <vector>

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
  std::vector<std::string> inputs;
  std::string model;
  std::string language = "en";
  std::string engine;  // "" = whisper with -m, else pocketsphinx
  std::string grammar;  // pocketsphinx: JSGF grammar
  std::string format;  // "" = whisper.cpp-style lines
  std::string task = "transcribe";
  std::string prompt;
  std::string output_dir;
  bool json = false;
  bool no_timestamps = false;
  bool translate = false;
  bool no_fallback = false;
  bool suppress_nst = false;
  int beam = 0;  // 0: 5, or 1 (greedy) with --stream
  int best_of = 5;
  float temperature = 0.0f;
  uint32_t seed = 0;
  int threads = 0;
  bool stream = false;
  double step_s = 0.5;
};

// Timestamps like whisper.cpp's output, [hh:mm:ss.mmm --> ...].
std::string stamp(int64_t cs) { return server::subtitle_time(cs, '.'); }

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

// Our JSON: segments with times, text and every token with its probabilities.
std::string to_json(const asr::Transcript& t, const std::string& file, const asr::WhisperModel* m) {
  nlohmann::json j;
  if (!file.empty()) j["file"] = file;
  j["language"] = t.language;
  if (t.language_prob > 0) j["language_prob"] = t.language_prob;
  j["text"] = t.text;
  j["segments"] = nlohmann::json::array();
  for (const auto& s : t.segments) {
    nlohmann::json tokens = nlohmann::json::array();
    for (const auto& tok : s.tokens) {
      nlohmann::json jt = {{"id", tok.id}, {"p", tok.p}, {"plog", tok.plog}};
      if (m) jt["text"] = m->token_text(tok.id);
      tokens.push_back(std::move(jt));
    }
    j["segments"].push_back({{"t0", s.t0},
                             {"t1", s.t1},
                             {"text", s.text},
                             {"no_speech_prob", s.no_speech_prob},
                             {"tokens", std::move(tokens)}});
  }
  // Token pieces can split UTF-8 sequences; replace invalid bytes instead of failing.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string extension(const std::string& format) {
  if (format == "srt" || format == "vtt" || format == "json") return format;
  if (format == "verbose_json") return "json";
  return "txt";
}

void run(const TranscribeArgs& a) {
  const std::string engine = !a.engine.empty() ? a.engine : a.model.empty() ? "pocketsphinx" : "whisper";
  const bool translate = a.translate || a.task == "translate";
  std::string format = a.json ? "json" : a.format;
  if (format == "txt") format = "text";
  if (a.stream && a.inputs.size() != 1) throw Error("--stream takes one file");
  if (std::count(a.inputs.begin(), a.inputs.end(), "-") > 1) throw Error("stdin (-) given twice");
  if (!a.output_dir.empty()) std::filesystem::create_directories(a.output_dir);

  std::unique_ptr<asr::Transcriber> tr;
  std::unique_ptr<asr::Pocketsphinx> ps;
  asr::TranscribeOptions opt;
  if (engine == "pocketsphinx") {
    if (a.stream) throw Error("--stream is implemented for Whisper models (-m) only");
    if ((a.language != "en" && a.language != "auto") || translate) {
      throw Error("pocketsphinx recognises English only; give a multilingual Whisper model (-m)");
    }
    asr::PocketsphinxOptions po;
    po.jsgf_path = a.grammar;
    ps = std::make_unique<asr::Pocketsphinx>(po);
  } else {
    if (!a.grammar.empty()) throw Error("--grammar is for the pocketsphinx engine");
    if (a.model.empty()) throw Error("--engine whisper needs a model: -m ggml-MODEL.bin");
    tr = std::make_unique<asr::Transcriber>(a.model, a.threads);
    if (translate && !tr->model().tokens().multilingual) {
      throw Error("--task translate needs a multilingual Whisper model (this one is English-only)");
    }
    opt = asr::default_decoding_options();
    opt.language = a.language;
    opt.no_timestamps = a.no_timestamps;
    opt.translate = translate;
    // Streaming re-decodes the buffer every step: greedy without fallback keeps it fast.
    if (a.stream) {
      opt.beam_size = 1;
      opt.temperature_inc = 0.0f;
    }
    if (a.beam > 0) opt.beam_size = a.beam;
    opt.best_of = a.best_of;
    opt.temperature = a.temperature;
    if (a.no_fallback) opt.temperature_inc = 0.0f;
    opt.seed = a.seed;
    opt.initial_prompt = a.prompt;
    opt.suppress_non_speech = a.suppress_nst;
  }

  for (const std::string& input : a.inputs) {
    const asr::Audio audio = input == "-" ? asr::load_audio_stream(stdin)
                                          : asr::load_audio_file(input);
    asr::Transcript t;
    if (ps) {
      const auto r = ps->recognize(audio);
      asr::WhisperSegment seg;
      seg.t0 = r.words.empty() ? 0 : static_cast<int64_t>(r.words.front().t0 * 100);
      seg.t1 = r.words.empty() ? static_cast<int64_t>(audio.seconds() * 100)
                               : static_cast<int64_t>(r.words.back().t1 * 100 + 0.5);
      seg.text = r.text;
      t.text = r.text;
      t.language = "en";
      if (!r.text.empty()) t.segments.push_back(seg);
    } else {
      if (a.stream) return run_stream(a, *tr, audio, opt);
      t = tr->transcribe(audio, opt);
    }
    std::string out;
    if (format == "json") {
      out = to_json(t, a.inputs.size() > 1 ? input : "", tr ? &tr->model() : nullptr);
    } else if (!format.empty()) {
      // The same writers as the server's /v1/audio/transcriptions.
      const auto f = server::parse_transcript_format(format);
      out = server::format_transcript(t, f, translate ? "translate" : "transcribe", t.language,
                                      audio.seconds())
                .body;
      if (!out.empty() && out.back() != '\n') out += "\n";
    } else if (a.no_timestamps) {
      out = t.text + "\n";
    } else {
      for (const auto& s : t.segments) {
        out += "[" + stamp(s.t0) + " --> " + stamp(s.t1) + "] " + s.text + "\n";
      }
    }
    if (!a.output_dir.empty()) {
      const std::string stem =
          input == "-" ? "stdin" : std::filesystem::path(input).stem().string();
      const auto path = std::filesystem::path(a.output_dir) / (stem + "." + extension(format));
      std::ofstream f(path, std::ios::binary);
      f << out;
      if (!f) throw Error("cannot write " + path.string());
      continue;
    }
    // Several files: a header line per file, except for JSON (one document per line).
    if (a.inputs.size() > 1 && format != "json" && format != "verbose_json") {
      std::printf("==> %s <==\n", input.c_str());
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  }
}

const RegisterCommand kRegister([](CLI::App& app) {
  auto args = std::make_shared<TranscribeArgs>();
  CLI::App* cmd = app.add_subcommand("transcribe", "Speech to text (Whisper model or PocketSphinx)");
  cmd->add_option("files", args->inputs, "Audio files (WAV, FLAC, Ogg, MP3, ...; - for stdin)")
      ->required();
  cmd->add_option("-m,--model", args->model, "Whisper model (whisper.cpp ggml .bin)");
  cmd->add_option("--engine", args->engine,
                  "whisper (needs -m) or pocketsphinx (English, no download; default without -m)")
      ->check(CLI::IsMember({"whisper", "pocketsphinx"}));
  cmd->add_option("--grammar", args->grammar,
                  "pocketsphinx: recognise only the sentences of this JSGF grammar file");
  cmd->add_option("--format", args->format,
                  "Output: txt (= text), json (segments, tokens, probabilities, language), srt, "
                  "vtt or verbose_json (OpenAI's)")
      ->check(CLI::IsMember({"txt", "json", "text", "srt", "vtt", "verbose_json"}));
  cmd->add_flag("--json", args->json, "Same as --format json");
  cmd->add_option("-o,--output-dir", args->output_dir,
                  "Write one file per input (DIR/NAME.txt|json|srt|vtt) instead of stdout");
  cmd->add_flag("--no-timestamps", args->no_timestamps, "Decode without timestamp tokens");
  cmd->add_option("--task", args->task, "transcribe, or translate (to English)")
      ->check(CLI::IsMember({"transcribe", "translate"}));
  cmd->add_flag("--translate", args->translate, "Same as --task translate");
  cmd->add_option("-l,--language", args->language,
                  "Spoken language: auto (detect; multilingual models) or a code (en, ko, ...)");
  cmd->add_option("--beam,--beam-size", args->beam,
                  "Beam size (1 = greedy; default 5, 1 with --stream)")
      ->check(CLI::Range(1, 16));
  cmd->add_option("--best-of", args->best_of, "Samples per fallback temperature (default 5)")
      ->check(CLI::Range(1, 16));
  cmd->add_option("--temperature", args->temperature, "Initial temperature (default 0)")
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_flag("--no-fallback", args->no_fallback,
                "No temperature fallback (retries at 0.2 ... 1.0 when a window fails; off with "
                "--stream)");
  cmd->add_option("--seed", args->seed,
                  "Seed of the sampling generators (beam candidates, temperature > 0)");
  cmd->add_option("--prompt", args->prompt, "Initial prompt: previous text, names, spellings");
  cmd->add_flag("--suppress-nst", args->suppress_nst, "Suppress non-speech symbol tokens");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all cores)")
      ->check(CLI::Range(1, 256));
  cmd->add_flag("--stream", args->stream, "Streaming decode: print partial results as they form");
  cmd->add_option("--step", args->step_s, "Streaming step in seconds (default 0.5)")
      ->check(CLI::Range(0.05, 30.0));
  cmd->callback([args] { run(*args); });
});

}  // namespace
}  // namespace omni::cli
