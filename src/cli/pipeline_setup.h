// Flags and stage construction shared by `omni run`, `omni bench pipeline` and `omni chat`'s
// voice commands: the local stages with defaults that need no downloads (espeak-ng TTS).
// Settings come from the flags, then omni.toml (pipeline/config.h; --config FILE, --set K=V),
// then the built-in defaults: a flag given on the command line always wins.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/thread_pool.h"
#include "pipeline/config.h"
#include "pipeline/local_image_encoder.h"
#include "pipeline/local_llm.h"
#include "pipeline/turn.h"


namespace omni::cli {

struct PipelineFlags {
  std::string llm;          // -m
  std::string asr_model;    // --asr-model (whisper ggml)
  std::string asr_grammar;  // --asr-grammar: PocketSphinx JSGF grammar (asr.pocketsphinx_grammar)
  std::string voice = "espeak:en";
  std::string system;
  std::string language = "en";
  int max_tokens = 256;
  float temp = 0.0f;
  int64_t seed = 0;
  int threads = 0;
  uint32_t ctx = 0;
  int asr_max_tokens = 0;  // --asr-max-tokens (Whisper decode cap; 0 = the model's limit)
  bool no_vad = false;
  bool no_asr_stream = false;  // --no-asr-stream: Whisper transcribes at end of speech only
  std::string asr_final_context = "fitted";  // --asr-final-context fitted|full
  int vad_hangover_ms = -1;    // --vad-hangover-ms (-1: the configuration's)
  int vad_pause_ms = -1;       // --vad-pause-ms (-1: the configuration's)
  bool no_speculate = false;   // --no-speculate
  bool speculate = true;       // resolved from the flag and pipeline.speculate
  int speculative_hold_ms = 250;  // pipeline.speculative_hold_ms
  std::string config_file;        // --config
  std::vector<std::string> sets;  // --set KEY=VALUE
  // From the configuration only (no flags of their own).
  int top_k = 40;
  float top_p = 0.95f;
  int tts_rate = 175, tts_pitch = 50;
  std::optional<pipeline::VadOptions> vad = pipeline::VadOptions{};
  pipeline::ChunkerOptions chunker;
  std::string config_used;       // the file that was read ("" when none)

  std::string mmproj;              // --mmproj: the LLM's image projector (embeddings path)
  std::string image_mode = "auto"; // --image-mode embed|ocr|caption|auto
  std::string ocr_languages;       // --ocr-languages eng+kor; "" = from --language

  CLI::App* cmd = nullptr;  // set by add_pipeline_flags: tells which flags were given
};

// Adds -m, --asr-model, --voice, --system, --language, -n, --temp, --seed, -t, -c,
// --mmproj, --image-mode, --ocr-languages, --asr-max-tokens, --no-vad, --no-asr-stream,
// --asr-final-context, --vad-hangover-ms, --vad-pause-ms, --no-speculate, --config, --set.
void add_pipeline_flags(CLI::App* cmd, PipelineFlags& f);

// Fills what the command line left unset from the configuration (omni.toml, --set). Call first
// thing in the command's callback. Throws omni::Error for a bad file or a setting the local
// pipeline cannot honour (remote engines), and when no LLM is named anywhere.
void apply_config(PipelineFlags& f);
void apply_config(const pipeline::Config& c, PipelineFlags& f);

// The loaded stages a command uses; members stay null when not asked for.
struct LocalPipeline {
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<pipeline::LocalLanguageModel> llm;
  std::unique_ptr<pipeline::SpeechToText> stt;
  std::unique_ptr<pipeline::ClipImageEncoder> image_encoder;  // --mmproj (embed and caption)
  std::unique_ptr<pipeline::ImageReader> image_reader;        // ocr or caption
  std::unique_ptr<pipeline::TextToSpeech> tts;
  pipeline::ImageMode image_mode = pipeline::ImageMode::kAuto;  // resolved by setup_images

  pipeline::Stages stages() const {
    return {stt.get(), image_reader.get(), tts.get(),
            image_mode == pipeline::ImageMode::kEmbed ? image_encoder.get() : nullptr};
  }
};

// The speech recogniser the flags name: Whisper with --asr-model, else PocketSphinx (English).
std::unique_ptr<pipeline::SpeechToText> make_stt(const PipelineFlags& f);
// The words path for images: OCR (Tesseract) in --ocr-languages, else Korean first when the
// language is ko, else eng+kor.
std::unique_ptr<pipeline::ImageReader> make_image_reader(const PipelineFlags& f);
// Loads --mmproj (when given) and resolves --image-mode against the loaded LLM (p.llm must be
// set): embed keeps the encoder for the turn, caption builds a CaptionImageReader on the LLM, ocr
// a Tesseract reader. Throws omni::Error for embed/caption without a matching mmproj.
void setup_images(LocalPipeline& p, const PipelineFlags& f);

// Loads what the flags name. need_asr / need_image: the input has audio / an image; a missing
// engine is a clear omni::Error. speak: build the TTS stage.
LocalPipeline load_pipeline(const PipelineFlags& f, bool need_asr, bool need_image, bool speak);

// Turn options from the flags.
pipeline::TurnOptions turn_options(const PipelineFlags& f);

// Writes mono float audio as a 16-bit WAV.
void write_answer_wav(const std::string& path, const std::vector<float>& samples, int rate);

}  // namespace omni::cli
