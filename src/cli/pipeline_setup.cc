#include "cli/pipeline_setup.h"

#include "asr/wav.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "pipeline/local_caption.h"
#include "pipeline/local_ocr.h"
#include "pipeline/local_pocketsphinx.h"
#include "pipeline/local_tts.h"
#include "pipeline/local_whisper.h"

namespace omni::cli {

void add_pipeline_flags(CLI::App* cmd, PipelineFlags& f) {
  cmd->add_option("-m,--model", f.llm, "GGUF language model")->required();
  cmd->add_option("--asr-model", f.asr_model,
                  "Whisper model (whisper.cpp ggml .bin); default: PocketSphinx (English)");
  cmd->add_option("--voice", f.voice,
                  "espeak:en | espeak:ko | espeak:<voice> | a Piper voice.onnx (default espeak:en)");
  cmd->add_option("--system", f.system, "system prompt");
  cmd->add_option("-l,--language", f.language, "language of speech in and out (en, ko, ...)");
  cmd->add_option("-n,--n-predict", f.max_tokens, "max answer tokens");
  cmd->add_option("--temp", f.temp, "temperature (0 = greedy)");
  cmd->add_option("--seed", f.seed, "sampling seed");
  cmd->add_option("-t,--threads", f.threads, "threads (default: all cores)")->check(CLI::Range(1, 256));
  cmd->add_option("-c,--ctx", f.ctx, "LLM context size (default: the model's, at most 4096)");
  cmd->add_option("--mmproj", f.mmproj,
                  "the model's image projector (mmproj GGUF): images go in as embeddings");
  cmd->add_option("--image-mode", f.image_mode,
                  "how images reach the LLM: embed (needs --mmproj), ocr (words), caption (the "
                  "VLM describes it, needs --mmproj), auto (embed when --mmproj matches the "
                  "model, else ocr; default)")
      ->check(CLI::IsMember({"auto", "embed", "ocr", "caption"}));
  cmd->add_option("--ocr-languages", f.ocr_languages,
                  "Tesseract languages for image words, e.g. eng+kor (default: from --language)");
}

std::unique_ptr<pipeline::SpeechToText> make_stt(const PipelineFlags& f) {
  if (!f.asr_model.empty()) return std::make_unique<pipeline::WhisperStt>(f.asr_model, f.threads);
  // No download needed; English only (the stage says so clearly for other languages).
  if (f.language != "en") {
    throw Error("speech in '" + f.language +
                "' needs a multilingual Whisper model: give --asr-model WHISPER.bin (the built-in "
                "PocketSphinx recogniser knows English only)");
  }
  return std::make_unique<pipeline::PocketsphinxStt>();
}

std::unique_ptr<pipeline::ImageReader> make_image_reader(const PipelineFlags& f) {
  if (!f.ocr_languages.empty()) return std::make_unique<pipeline::OcrImageReader>(f.ocr_languages);
  return std::make_unique<pipeline::OcrImageReader>(f.language == "ko" ? "kor+eng" : "eng+kor");
}

void setup_images(LocalPipeline& p, const PipelineFlags& f) {
  if (!f.mmproj.empty() && !p.image_encoder) {
    p.image_encoder = std::make_unique<pipeline::ClipImageEncoder>(f.mmproj, p.pool.get());
  }
  const int llm_n_embd = static_cast<int>(p.llm->model()->config().n_embd);
  p.image_mode = pipeline::resolve_image_mode(pipeline::parse_image_mode(f.image_mode),
                                              p.image_encoder ? p.image_encoder->n_embd_out() : 0,
                                              llm_n_embd);
  if (p.image_mode == pipeline::ImageMode::kOcr && !p.image_reader) {
    p.image_reader = make_image_reader(f);
  } else if (p.image_mode == pipeline::ImageMode::kCaption && !p.image_reader) {
    p.image_reader = std::make_unique<pipeline::CaptionImageReader>(
        p.llm->model(), p.llm->name(), *p.image_encoder,
        llm::ContextOptions{.n_ctx = f.ctx, .pool = p.pool.get()});
  }
}

LocalPipeline load_pipeline(const PipelineFlags& f, bool need_asr, bool need_image, bool speak) {
  LocalPipeline p;
  p.pool = std::make_unique<ThreadPool>(f.threads);
  p.llm = std::make_unique<pipeline::LocalLanguageModel>(
      f.llm, llm::ContextOptions{.n_ctx = f.ctx, .pool = p.pool.get()});
  if (need_asr) {
    p.stt = make_stt(f);
  }
  if (need_image || !f.mmproj.empty()) setup_images(p, f);
  if (speak) {
    std::string voice = f.voice;
    if (voice == "espeak:en" && f.language != "en") voice = "espeak:" + f.language;
    p.tts = pipeline::make_tts(voice);
  }
  return p;
}

pipeline::TurnOptions turn_options(const PipelineFlags& f) {
  pipeline::TurnOptions o;
  o.gen.max_tokens = f.max_tokens;
  o.gen.temperature = f.temp;
  if (f.temp > 0) {  // llama.cpp's sampling defaults
    o.gen.top_k = 40;
    o.gen.top_p = 0.95f;
  }
  o.gen.seed = static_cast<uint64_t>(f.seed);
  o.stt.language = f.language;
  o.language = f.language;
  return o;
}

void write_answer_wav(const std::string& path, const std::vector<float>& samples, int rate) {
  asr::Audio a;
  a.samples = samples;
  a.sample_rate = rate;
  a.channels = 1;
  asr::write_wav_file(path, a, asr::WavEncoding::kPcm16);
}

}  // namespace omni::cli
