// Random-weight whisper.cpp ggml model files of any whisper shape, with real mel filters (the
// Slaney-normalised bank whisper uses, 80 or 128 bins) and a vocabulary copied from a given file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace omni::gen {

struct WhisperShape {
  int32_t n_vocab = 51865;  // 51864 for .en, 51866 for large-v3
  int32_t n_audio_ctx = 1500;
  int32_t n_audio_state = 384;
  int32_t n_audio_head = 6;
  int32_t n_audio_layer = 4;
  int32_t n_text_ctx = 448;
  int32_t n_text_state = 384;
  int32_t n_text_head = 6;
  int32_t n_text_layer = 4;
  int32_t n_mels = 80;
};

struct WhisperGenOptions {
  std::string vocab_from;  // a whisper ggml file whose vocabulary section is copied
  std::string type = "f16";  // f32 f16 q8_0 q5_0 q5_1 q4_0 q4_1 (matrices; the rest stays f32)
  uint64_t seed = 1;
  float stddev = 0.02f;
};

// whisper-tiny, -base, -small, -medium, -large-v3, -large-v3-turbo; append ".en" for the
// English-only vocabulary size (not for large-v3).
std::optional<WhisperShape> whisper_preset(const std::string& name);

// Whisper's mel filter bank (librosa.filters.mel(sr=16000, n_fft=400, n_mels), Slaney scale and
// normalisation): n_mels rows of 201 values.
std::vector<float> whisper_mel_filters(int n_mels);

void generate_whisper(const WhisperShape& shape, const WhisperGenOptions& opts,
                      const std::string& path);

}  // namespace omni::gen
