// `omni speak TEXT -o out.wav [--voice FILE.onnx | --voice en|ko|<espeak voice>] ...`
// A Piper voice file speaks with our VITS engine; any other --voice is an espeak-ng voice.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "tts/espeak.h"
#include "tts/piper_voice.h"
#include "tts/wav_writer.h"

namespace omni::cli {
namespace {

struct SpeakArgs {
  std::string text;
  std::string output;
  std::string voice = "en";
  std::string config;
  std::string speaker = "0";
  std::optional<float> length_scale, noise_scale, noise_w;
  uint64_t seed = 0;
  int threads = 1;
  int rate = 175;
  int pitch = 50;
  bool raw_f32 = false;
};

bool is_voice_file(const std::string& v) {
  return v.ends_with(".onnx") || std::filesystem::is_regular_file(v);
}

void write_output(const SpeakArgs& a, const std::vector<float>& f32,
                  const std::vector<int16_t>& s16, int rate) {
  if (a.raw_f32) {
    tts::write_raw_f32(a.output, f32);
  } else {
    tts::write_wav_s16(a.output, s16, rate);
  }
}

void run_piper(const SpeakArgs& a) {
  const tts::PiperVoice voice = tts::PiperVoice::load(a.voice, a.config);
  // --speaker: a number, or a name from the config's speaker_id_map.
  int speaker = -1;
  if (auto it = voice.config().speaker_id_map.find(a.speaker);
      it != voice.config().speaker_id_map.end()) {
    speaker = it->second;
  } else if (!a.speaker.empty() && a.speaker.find_first_not_of("0123456789") == std::string::npos &&
             a.speaker.size() < 6) {
    speaker = std::stoi(a.speaker);
  }
  if (speaker < 0 || speaker >= voice.model().num_speakers()) {
    throw Error("--speaker " + a.speaker + " is not a speaker of this voice (it has " +
                std::to_string(voice.model().num_speakers()) + ")");
  }
  std::unique_ptr<ThreadPool> pool;
  if (a.threads > 1) pool = std::make_unique<ThreadPool>(a.threads);
  tts::SpeakOptions opt;
  opt.length_scale = a.length_scale;
  opt.noise_scale = a.noise_scale;
  opt.noise_w = a.noise_w;
  opt.speaker = speaker;
  opt.seed = a.seed;
  opt.pool = pool.get();
  // Like Piper: each sentence is normalised to int16 on its own; 0.2 s of silence separates
  // sentences (none after the last, so one sentence is exactly the model's output).
  const size_t gap = size_t(0.2 * voice.sample_rate());
  std::vector<float> f32;
  std::vector<int16_t> s16;
  voice.synthesize(a.text, opt, [&](const tts::SentenceAudio& s) {
    if (s.index > 0) {
      f32.insert(f32.end(), gap, 0.f);
      s16.insert(s16.end(), gap, 0);
    }
    f32.insert(f32.end(), s.samples.begin(), s.samples.end());
    const auto pcm = tts::piper_to_int16(s.samples);
    s16.insert(s16.end(), pcm.begin(), pcm.end());
    return true;
  });
  write_output(a, f32, s16, voice.sample_rate());
}

void run_espeak(const SpeakArgs& a) {
  tts::EspeakSynthOptions opt;
  opt.voice = a.voice == "en" ? "en-us" : a.voice;
  opt.rate = a.rate;
  opt.pitch = a.pitch;
  tts::Espeak& e = tts::Espeak::instance();
  std::vector<int16_t> s16;
  e.synthesize(a.text, opt, [&](std::span<const int16_t> pcm, bool) {
    s16.insert(s16.end(), pcm.begin(), pcm.end());
    return true;
  });
  write_output(a, tts::pcm_to_float(s16), s16, e.sample_rate());
}

const RegisterCommand kRegister([](CLI::App& app) {
  auto args = std::make_shared<SpeakArgs>();
  CLI::App* cmd = app.add_subcommand("speak", "Text to speech (Piper voice or espeak-ng)");
  cmd->add_option("text", args->text, "Text to speak")->required();
  cmd->add_option("-o,--output", args->output, "Output file (WAV, or raw float32)")->required();
  cmd->add_option("--voice", args->voice,
                  "Piper voice file (.onnx, config beside it) or espeak-ng voice (en, ko, ...)");
  cmd->add_option("--config", args->config, "Piper voice config (default: VOICE.onnx.json)");
  cmd->add_option("--speaker", args->speaker, "Speaker of a multi-speaker voice (id or name)");
  cmd->add_option("--length-scale", args->length_scale, "Phoneme length scale (slower > 1)");
  cmd->add_option("--noise-scale", args->noise_scale, "Generator noise scale");
  cmd->add_option("--noise-w", args->noise_w, "Duration noise scale");
  cmd->add_option("--seed", args->seed, "Noise seed");
  cmd->add_option("--threads", args->threads, "Threads for the neural voice")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--rate", args->rate, "espeak-ng: words per minute")->check(CLI::Range(80, 450));
  cmd->add_option("--pitch", args->pitch, "espeak-ng: pitch 0..100")->check(CLI::Range(0, 100));
  cmd->add_flag("--raw-f32", args->raw_f32, "Write raw float32 samples (before int16) instead");
  cmd->callback([args] {
    if (is_voice_file(args->voice)) {
      run_piper(*args);
    } else {
      run_espeak(*args);
    }
  });
});

}  // namespace
}  // namespace omni::cli
