// A Whisper model loaded from a whisper.cpp ggml file: hyper-parameters, special tokens and the
// tensors of the encoder and decoder bound by name, with every shape and type checked at load
// (all sizes tiny ... large-v3 / turbo, 80 or 128 mel bins, F32/F16/Q8_0/Q5_0/Q5_1/Q4_0/Q4_1
// matrices). A missing or mis-shaped tensor gives an omni::FormatError naming it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/ggml_file.h"

namespace omni::asr {

// A weight matrix of `rows` output features x `cols` inputs, as the kernels take it. `data`
// points into the file mapping when suitably aligned, else into an owned aligned copy.
struct WhisperMatrix {
  DType type = DType::F32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

struct WhisperLinear {
  WhisperMatrix w;
  std::vector<float> b;  // empty: no bias (attention keys)
};

struct WhisperNorm {
  std::vector<float> w, b;
};

struct WhisperAttention {
  WhisperLinear q, k, v, o;
};

struct WhisperEncoderLayer {
  WhisperNorm attn_ln;
  WhisperAttention attn;
  WhisperNorm mlp_ln;
  WhisperLinear fc1, fc2;
};

struct WhisperDecoderLayer {
  WhisperNorm attn_ln;
  WhisperAttention attn;
  WhisperNorm cross_ln;
  WhisperAttention cross;
  WhisperNorm mlp_ln;
  WhisperLinear fc1, fc2;
};

// Special token ids, derived from n_vocab exactly as whisper.cpp does.
struct WhisperTokens {
  int32_t eot = 50256, sot = 50257, translate = 50357, transcribe = 50358, solm = 50359,
          prev = 50360, nosp = 50361, not_ts = 50362, beg = 50363;
  int32_t n_languages = 0;
  bool multilingual = false;
  int32_t space = 220;  // the " " token (masked at the first step)
  int32_t lang(int index) const { return sot + 1 + index; }
};

class WhisperModel {
 public:
  // Opens and validates `path`. Throws omni::FormatError / omni::Error.
  static std::shared_ptr<const WhisperModel> load(const std::string& path);
  // Binds an already parsed file (its bytes must outlive the model).
  static std::shared_ptr<const WhisperModel> from_file(ggml::File file);

  const ggml::Hparams& hparams() const { return file_.hparams(); }
  const ggml::File& file() const { return file_; }
  const ggml::MelFilters& mel_filters() const { return file_.mel_filters(); }
  const WhisperTokens& tokens() const { return tokens_; }
  int n_vocab() const { return hparams().n_vocab; }
  // Bytes of token `id` (special tokens get whisper.cpp's display names such as "[_TT_5]").
  const std::string& token_text(int32_t id) const { return vocab_.at(static_cast<size_t>(id)); }
  // Token id of a vocabulary string, or -1.
  int32_t find_token(const std::string& text) const;

  // Encoder.
  WhisperMatrix conv1_w, conv2_w;  // rows n_state, cols n_in*3 (input channel major, tap minor)
  std::vector<float> conv1_b, conv2_b;
  std::vector<float> enc_pos;  // [n_audio_ctx][n_audio_state]
  std::vector<WhisperEncoderLayer> enc_layers;
  WhisperNorm ln_post;
  // Decoder.
  WhisperMatrix token_embedding;  // rows n_vocab, cols n_text_state
  std::vector<float> dec_pos;     // [n_text_ctx][n_text_state]
  std::vector<WhisperDecoderLayer> dec_layers;
  WhisperNorm dec_ln;

 private:
  explicit WhisperModel(ggml::File file) : file_(std::move(file)) {}
  void bind();
  const ggml::TensorInfo& tensor(const std::string& name, std::vector<uint64_t> shape) const;
  WhisperMatrix matrix(const std::string& name, int64_t cols, int64_t rows, bool quant_ok);
  std::vector<float> floats(const std::string& name, std::vector<uint64_t> shape) const;
  WhisperLinear linear(const std::string& name, int64_t cols, int64_t rows, bool bias);
  WhisperNorm norm(const std::string& name, int64_t n) const;
  WhisperAttention attention(const std::string& prefix, int64_t n);

  ggml::File file_;
  WhisperTokens tokens_;
  std::vector<std::string> vocab_;
  std::vector<std::vector<float>> owned_;  // aligned copies of unaligned matrices (float-backed)
};

}  // namespace omni::asr
