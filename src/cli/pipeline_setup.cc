#include "cli/pipeline_setup.h"

#include <cmath>
#include <filesystem>
#include <random>

#include "asr/wav.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "pipeline/local_caption.h"
#include "pipeline/local_ocr.h"
#include "pipeline/local_pocketsphinx.h"
#include "pipeline/local_tts.h"
#include "pipeline/local_whisper.h"
#include "pipeline/pull.h"

namespace omni::cli {

void add_pipeline_flags(CLI::App* cmd, PipelineFlags& f) {
  f.cmd = cmd;
  cmd->add_option("-m,--model", f.llm, "GGUF language model (default: llm.model in omni.toml)");
  cmd->add_option("--asr-model", f.asr_model,
                  "Whisper model (whisper.cpp ggml .bin); default: PocketSphinx (English)");
  cmd->add_option("--asr-grammar", f.asr_grammar,
                  "PocketSphinx: recognise only the sentences of this JSGF grammar (commands, "
                  "digits; default asr.pocketsphinx_grammar)");
  cmd->add_option("--voice", f.voice,
                  "espeak:en | espeak:ko | espeak:<voice> | a Piper voice.onnx (default espeak:en)");
  cmd->add_option("--system", f.system, "system prompt");
  cmd->add_option("-l,--language", f.language, "language of speech in and out (en, ko, ...)");
  cmd->add_option("-n,--n-predict", f.max_tokens, "max answer tokens");
  cmd->add_option("--temp", f.temp, "temperature (0 = greedy)");
  cmd->add_option("--seed", f.seed, "sampling seed");
  cmd->add_option("-t,--threads", f.threads, "threads (default: all cores)")->check(CLI::Range(1, 256));
  cmd->add_option("-c,--ctx-size,--ctx", f.ctx, "LLM context size in tokens (default: the model's, at most 4096)");
  cmd->add_option("--asr-max-tokens", f.asr_max_tokens,
                  "cap on Whisper's decoded tokens per 30 s window (0 = the model's limit)")
      ->check(CLI::Range(0, 448));
  cmd->add_flag("--no-asr-stream", f.no_asr_stream,
                "Whisper: no streaming partials during real-time input (transcribe at the end)");
  cmd->add_flag("--no-vad", f.no_vad, "no voice activity detection (the input's end ends speech)");
  cmd->add_option("--asr-final-context", f.asr_final_context,
                  "Whisper's end-of-turn pass: fitted (the audio present plus a margin) or full "
                  "(a 30 s window, the offline result); default asr.final_context")
      ->check(CLI::IsMember({"fitted", "full"}));
  cmd->add_option("--vad-hangover-ms", f.vad_hangover_ms,
                  "silence that ends an utterance (default pipeline.vad_hangover_ms)")
      ->check(CLI::Range(20, 10000));
  cmd->add_option("--vad-pause-ms", f.vad_pause_ms,
                  "silence after which a speculative answer starts, 0 = off "
                  "(default pipeline.vad_pause_ms)")
      ->check(CLI::Range(0, 10000));
  cmd->add_flag("--no-speculate", f.no_speculate,
                "wait for the full hangover before answering (no speculative start at a pause)");
  cmd->add_option("--config", f.config_file,
                  "configuration file (default $OMNI_CONFIG or ~/.config/omni/omni.toml)");
  cmd->add_option("--set", f.sets, "override a setting, e.g. --set llm.temperature=0.2");
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

namespace {

bool given(const PipelineFlags& f, const char* flag) { return f.cmd && f.cmd->count(flag) > 0; }

bool from_user(const pipeline::Config& c, std::string_view key) {
  return c.entry(key).source != pipeline::ConfigSource::kDefault;
}

// A model setting is a path, or a file name in the models folder.
std::string model_path(const std::string& v) {
  if (v.empty() || std::filesystem::exists(v)) return v;
  const std::string in_dir = pipeline::default_models_dir() + "/" + v;
  return std::filesystem::exists(in_dir) ? in_dir : v;
}

}  // namespace

void apply_config(PipelineFlags& f) {
  pipeline::Config c = pipeline::Config::load(f.config_file);
  for (const auto& s : f.sets) c.set_flag_assignment(s);
  apply_config(c, f);
}

void apply_config(const pipeline::Config& c, PipelineFlags& f) {
  f.config_used = c.file();
  // Engines: the local pipeline of run/chat/bench has no remote stages yet.
  for (const char* k : {"llm.url", "asr.url", "tts.url"}) {
    if (!c.str(k).empty()) {
      throw Error(std::string(k) + " is set, but omni run/chat use local engines only (remote "
                  "stages serve `omni serve` clients); clear it or use the server");
    }
  }
  if (!given(f, "--model") && from_user(c, "llm.model")) f.llm = model_path(c.str("llm.model"));
  if (f.llm.empty()) throw Error("no language model: give -m MODEL.gguf or set llm.model in omni.toml");
  if (!given(f, "--asr-model")) {
    const std::string engine = c.str("asr.engine");
    if (engine == "remote") throw Error("asr.engine = remote: omni run/chat use local engines only");
    if (engine == "whisper") {
      if (c.str("asr.model").empty()) throw Error("asr.engine = whisper needs asr.model");
      f.asr_model = model_path(c.str("asr.model"));
    } else if (from_user(c, "asr.engine")) {
      f.asr_model.clear();  // pocketsphinx asked for by name
    }
  }
  if (!given(f, "--asr-grammar")) f.asr_grammar = c.str("asr.pocketsphinx_grammar");
  if (!given(f, "--language") && from_user(c, "asr.language")) f.language = c.str("asr.language");
  if (!given(f, "--threads")) {
    const int64_t t = from_user(c, "llm.threads") ? c.integer("llm.threads") : c.integer("asr.threads");
    if (t < 0 || t > 256) throw Error("threads must be 0..256");
    if (t > 0) f.threads = static_cast<int>(t);
  }
  if (!given(f, "--system") && from_user(c, "llm.system_prompt")) f.system = c.str("llm.system_prompt");
  if (!given(f, "--temp") && from_user(c, "llm.temperature")) {
    f.temp = static_cast<float>(c.number("llm.temperature"));
  }
  if (!given(f, "--seed") && from_user(c, "llm.seed")) {
    f.seed = c.integer("llm.seed");
    if (f.seed < 0) f.seed = static_cast<int64_t>(std::random_device{}() & 0x7fffffff);
  }
  if (!given(f, "--n-predict") && from_user(c, "llm.max_tokens")) {
    f.max_tokens = static_cast<int>(std::clamp<int64_t>(c.integer("llm.max_tokens"), 1, 1 << 20));
  }
  if (!given(f, "--ctx") && from_user(c, "llm.ctx")) {
    f.ctx = static_cast<uint32_t>(std::clamp<int64_t>(c.integer("llm.ctx"), 16, 1 << 20));
  }
  f.top_k = static_cast<int>(std::clamp<int64_t>(c.integer("llm.top_k"), 0, 1 << 20));
  f.top_p = static_cast<float>(c.number("llm.top_p"));
  if (!given(f, "--voice") && (from_user(c, "tts.engine") || from_user(c, "tts.voice"))) {
    const std::string engine = c.str("tts.engine");
    if (engine == "remote") throw Error("tts.engine = remote: omni run/chat use local engines only");
    f.voice = engine == "piper" ? model_path(c.str("tts.voice")) : "espeak:" + c.str("tts.voice");
  }
  f.tts_rate = static_cast<int>(std::clamp<int64_t>(c.integer("tts.rate"), 20, 1000));
  f.tts_pitch = static_cast<int>(std::clamp<int64_t>(c.integer("tts.pitch"), 0, 100));
  if (!given(f, "--ocr-languages") && from_user(c, "vision.ocr_lang")) {
    f.ocr_languages = c.str("vision.ocr_lang");
  }
  if (!given(f, "--image-mode") && from_user(c, "vision.mode")) f.image_mode = c.str("vision.mode");
  if (!given(f, "--mmproj") && from_user(c, "vision.mmproj")) f.mmproj = model_path(c.str("vision.mmproj"));
  if (c.boolean("pipeline.vad") && !f.no_vad) {
    pipeline::VadOptions v;
    v.energy_threshold_db = static_cast<float>(c.number("pipeline.vad_energy_db"));
    v.noise_margin_db = static_cast<float>(c.number("pipeline.vad_noise_margin_db"));
    v.zcr_max = static_cast<float>(c.number("pipeline.vad_zcr_max"));
    v.hangover_ms = static_cast<int>(std::clamp<int64_t>(c.integer("pipeline.vad_hangover_ms"), 20, 10000));
    v.min_speech_ms = static_cast<int>(std::clamp<int64_t>(c.integer("pipeline.vad_min_speech_ms"), 20, 10000));
    v.pause_ms = static_cast<int>(std::clamp<int64_t>(c.integer("pipeline.vad_pause_ms"), 0, 10000));
    if (f.vad_hangover_ms > 0) v.hangover_ms = f.vad_hangover_ms;
    if (f.vad_pause_ms >= 0) v.pause_ms = f.vad_pause_ms;
    f.vad = v;
  } else {
    f.vad.reset();
  }
  f.speculate = c.boolean("pipeline.speculate") && !f.no_speculate;
  f.speculative_hold_ms =
      static_cast<int>(std::clamp<int64_t>(c.integer("pipeline.speculative_hold_ms"), 0, 10000));
  if (!given(f, "--asr-final-context")) f.asr_final_context = c.str("asr.final_context");
  f.chunker.min_chars = static_cast<size_t>(std::clamp<int64_t>(c.integer("pipeline.chunker_min_chars"), 1, 1000));
  f.chunker.max_wait = std::chrono::milliseconds(
      std::clamp<int64_t>(c.integer("pipeline.chunker_max_latency_ms"), 0, 60000));
  f.chunker.first_max_wait = std::chrono::milliseconds(
      std::clamp<int64_t>(c.integer("pipeline.chunker_first_latency_ms"), 0, 60000));
  f.chunker.first_words = static_cast<size_t>(
      std::clamp<int64_t>(c.integer("pipeline.chunker_first_words"), 0, 1000));
}

std::unique_ptr<pipeline::SpeechToText> make_stt(const PipelineFlags& f) {
  if (!f.asr_model.empty()) {
    if (!f.asr_grammar.empty()) {
      throw Error("--asr-grammar (asr.pocketsphinx_grammar) is for PocketSphinx; it does not "
                  "apply to the Whisper model " + f.asr_model);
    }
    auto w = std::make_unique<pipeline::WhisperStt>(f.asr_model, f.threads);
    w->set_streaming(!f.no_asr_stream);
    w->set_fitted_context(f.asr_final_context != "full");
    return w;
  }
  // No download needed; English only (the stage says so clearly for other languages).
  if (f.language != "en") {
    throw Error("speech in '" + f.language +
                "' needs a multilingual Whisper model: give --asr-model WHISPER.bin (the built-in "
                "PocketSphinx recogniser knows English only)");
  }
  asr::PocketsphinxOptions po;
  po.jsgf_path = f.asr_grammar;
  return std::make_unique<pipeline::PocketsphinxStt>(po);
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
  if (f.temp > 0) {  // llama.cpp's sampling defaults unless configured
    o.gen.top_k = f.top_k;
    o.gen.top_p = f.top_p;
  }
  o.gen.seed = static_cast<uint64_t>(f.seed);
  o.stt.language = f.language;
  o.stt.max_decode_tokens = f.asr_max_tokens;
  o.language = f.language;
  o.tts.speed = static_cast<float>(f.tts_rate) / 175.0f;
  o.tts.pitch = f.tts_pitch;
  o.vad = f.no_vad ? std::nullopt : f.vad;
  o.chunker = f.chunker;
  o.speculate = f.speculate;
  o.speculative_hold_ms = f.speculative_hold_ms;
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
