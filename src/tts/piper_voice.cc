#include "tts/piper_voice.h"

#include "core/error.h"

namespace omni::tts {

PiperVoice PiperVoice::load(const std::string& onnx_path, const std::string& config_path) {
  PiperVoice v;
  v.config_ = load_voice_config(config_path.empty() ? onnx_path + ".json" : config_path);
  if (v.config_.phoneme_type != "espeak") {
    throw Error(onnx_path + ": phoneme_type '" + v.config_.phoneme_type +
                "' is not supported (only espeak)");
  }
  v.model_ = VitsModel::load(onnx_path);
  if (v.config_.num_speakers != v.model_.num_speakers() &&
      !(v.config_.num_speakers == 1 && v.model_.num_speakers() == 1)) {
    throw FormatError(onnx_path + ": config says " + std::to_string(v.config_.num_speakers) +
                      " speakers, model has " + std::to_string(v.model_.num_speakers()));
  }
  return v;
}

namespace {

VitsOptions vits_options(const SpeakOptions& options, const VoiceConfig& config) {
  VitsOptions vo;
  vo.noise_scale = options.noise_scale.value_or(config.noise_scale);
  vo.length_scale = options.length_scale.value_or(config.length_scale);
  vo.noise_w = options.noise_w.value_or(config.noise_w);
  vo.speaker = options.speaker;
  vo.pool = options.pool;
  if (!(vo.length_scale > 0.f && vo.length_scale < 100.f)) throw Error("length_scale out of range");
  return vo;
}

}  // namespace

bool PiperVoice::synthesize_chunks(std::string_view text, const SpeakOptions& options,
                                   int chunk_frames, const OnChunk& on_chunk) const {
  VitsOptions vo = vits_options(options, config_);
  const std::vector<Phonemes> sentences =
      phonemize_espeak(text, config_.espeak_voice, config_.effective_phoneme_map());
  for (size_t i = 0; i < sentences.size(); ++i) {
    const std::vector<int64_t> ids = phonemes_to_ids(sentences[i], config_).ids;
    vo.seed = options.seed + i;
    const bool go_on = model_.synthesize_streaming(
        ids, vo, chunk_frames,
        [&](std::span<const float> a, bool last) { return on_chunk(i, a, last); },
        std::min(chunk_frames, kFirstChunkFrames));
    if (!go_on) return false;
  }
  return true;
}

bool PiperVoice::synthesize(std::string_view text, const SpeakOptions& options,
                            const OnSentence& on_sentence) const {
  VitsOptions vo = vits_options(options, config_);
  const std::vector<Phonemes> sentences =
      phonemize_espeak(text, config_.espeak_voice, config_.effective_phoneme_map());
  for (size_t i = 0; i < sentences.size(); ++i) {
    SentenceAudio s;
    s.index = i;
    s.phonemes = u32_to_utf8(sentences[i]);
    s.ids = phonemes_to_ids(sentences[i], config_).ids;
    vo.seed = options.seed + i;  // each sentence its own noise stream
    s.samples = model_.synthesize(s.ids, vo);
    if (!on_sentence(s)) return false;
  }
  return true;
}

std::vector<float> PiperVoice::synthesize_all(std::string_view text, const SpeakOptions& options,
                                              float silence_seconds) const {
  std::vector<float> out;
  const size_t gap = size_t(std::max(0.f, silence_seconds) * float(config_.sample_rate));
  synthesize(text, options, [&](const SentenceAudio& s) {
    if (s.index > 0) out.insert(out.end(), gap, 0.f);
    out.insert(out.end(), s.samples.begin(), s.samples.end());
    return true;
  });
  return out;
}

}  // namespace omni::tts
