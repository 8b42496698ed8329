#include "asr/whisper_model.h"

#include <cstring>

#include "core/error.h"
#include "core/quant.h"

namespace omni::asr {
namespace {

std::string shape_str(const std::vector<uint64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Shapes compare with trailing 1s ignored (ggml writes biases as [n] or [1, n]).
bool same_shape(std::vector<uint64_t> a, std::vector<uint64_t> b) {
  while (a.size() > 1 && a.back() == 1) a.pop_back();
  while (b.size() > 1 && b.back() == 1) b.pop_back();
  return a == b;
}

bool matrix_type_ok(DType t, bool quant_ok) {
  switch (t) {
    case DType::F32:
    case DType::F16: return true;
    case DType::Q8_0:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::Q4_0:
    case DType::Q4_1: return quant_ok;
    default: return false;
  }
}

}  // namespace

std::shared_ptr<const WhisperModel> WhisperModel::load(const std::string& path) {
  return from_file(ggml::File::open(path));
}

std::shared_ptr<const WhisperModel> WhisperModel::from_file(ggml::File file) {
  std::shared_ptr<WhisperModel> m(new WhisperModel(std::move(file)));
  m->bind();
  return m;
}

int32_t WhisperModel::find_token(const std::string& text) const {
  for (size_t i = 0; i < vocab_.size(); ++i) {
    if (vocab_[i] == text) return static_cast<int32_t>(i);
  }
  return -1;
}

const ggml::TensorInfo& WhisperModel::tensor(const std::string& name,
                                             std::vector<uint64_t> shape) const {
  const ggml::TensorInfo* t = file_.tensor(name);
  if (!t) throw FormatError(file_.path() + ": whisper tensor '" + name + "' is missing");
  if (!same_shape(t->shape, shape)) {
    throw FormatError(file_.path() + ": whisper tensor '" + name + "' has shape " +
                      shape_str(t->shape) + ", expected " + shape_str(shape));
  }
  return *t;
}

WhisperMatrix WhisperModel::matrix(const std::string& name, int64_t cols, int64_t rows,
                                   bool quant_ok) {
  const auto& t = tensor(name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)});
  if (!matrix_type_ok(t.type, quant_ok)) {
    throw FormatError(file_.path() + ": whisper tensor '" + name + "' has unsupported type " +
                      std::string(dtype_name(t.type)));
  }
  WhisperMatrix m{t.type, t.data, rows, cols};
  // The format packs tensors back to back; SIMD and scalar kernels want at least element
  // alignment, so misaligned matrices get an aligned private copy.
  if (reinterpret_cast<uintptr_t>(t.data) % 64 != 0) {
    auto& buf = owned_.emplace_back((t.n_bytes + 3) / 4);
    std::memcpy(buf.data(), t.data, t.n_bytes);
    m.data = buf.data();
  }
  return m;
}

std::vector<float> WhisperModel::floats(const std::string& name,
                                        std::vector<uint64_t> shape) const {
  const auto& t = tensor(name, shape);
  if (t.type != DType::F32 && t.type != DType::F16) {
    throw FormatError(file_.path() + ": whisper tensor '" + name + "' must be f32 or f16, not " +
                      std::string(dtype_name(t.type)));
  }
  std::vector<float> out(t.n_elements);
  if (t.type == DType::F32) {
    std::memcpy(out.data(), t.data, t.n_bytes);
  } else {
    std::vector<uint16_t> h(t.n_elements);
    std::memcpy(h.data(), t.data, t.n_bytes);
    dequantize_row(DType::F16, h.data(), out.data(), static_cast<int64_t>(t.n_elements));
  }
  return out;
}

WhisperLinear WhisperModel::linear(const std::string& name, int64_t cols, int64_t rows,
                                   bool bias) {
  WhisperLinear l;
  l.w = matrix(name + ".weight", cols, rows, true);
  if (bias) l.b = floats(name + ".bias", {static_cast<uint64_t>(rows)});
  return l;
}

WhisperNorm WhisperModel::norm(const std::string& name, int64_t n) const {
  return {floats(name + ".weight", {static_cast<uint64_t>(n)}),
          floats(name + ".bias", {static_cast<uint64_t>(n)})};
}

WhisperAttention WhisperModel::attention(const std::string& p, int64_t n) {
  return {linear(p + ".query", n, n, true), linear(p + ".key", n, n, false),
          linear(p + ".value", n, n, true), linear(p + ".out", n, n, true)};
}

void WhisperModel::bind() {
  const auto& hp = file_.hparams();
  const std::string& path = file_.path();
  auto check = [&](int32_t v, const char* field, int32_t lo, int32_t hi) {
    if (v < lo || v > hi) {
      throw FormatError(path + ": whisper hparam " + field + " = " + std::to_string(v) +
                        " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
  };
  check(hp.n_vocab, "n_vocab", 51864, 60000);
  check(hp.n_audio_ctx, "n_audio_ctx", 1, 1 << 14);
  check(hp.n_audio_state, "n_audio_state", 1, 1 << 14);
  check(hp.n_audio_head, "n_audio_head", 1, 1024);
  check(hp.n_audio_layer, "n_audio_layer", 1, 1024);
  check(hp.n_text_ctx, "n_text_ctx", 16, 1 << 14);
  check(hp.n_text_state, "n_text_state", 1, 1 << 14);
  check(hp.n_text_head, "n_text_head", 1, 1024);
  check(hp.n_text_layer, "n_text_layer", 1, 1024);
  check(hp.n_mels, "n_mels", 1, 1024);
  if (hp.n_audio_state % hp.n_audio_head != 0 || hp.n_text_state % hp.n_text_head != 0) {
    throw FormatError(path + ": whisper state size is not a multiple of the head count");
  }
  if (hp.n_audio_state != hp.n_text_state) {
    throw FormatError(path + ": whisper n_audio_state != n_text_state");
  }
  const auto& mf = file_.mel_filters();
  if (mf.n_mel != hp.n_mels || mf.n_fft != 201) {
    throw FormatError(path + ": whisper mel filters are " + std::to_string(mf.n_mel) + "x" +
                      std::to_string(mf.n_fft) + ", expected " + std::to_string(hp.n_mels) +
                      "x201");
  }

  // Vocabulary and special tokens, following whisper.cpp's derivation from n_vocab.
  vocab_ = file_.vocab();
  auto& tk = tokens_;
  tk.multilingual = hp.n_vocab >= 51865;
  tk.n_languages = hp.n_vocab - 51765 - (tk.multilingual ? 1 : 0);
  if (tk.multilingual) {
    ++tk.eot;
    ++tk.sot;
    const int dt = tk.n_languages - 98;
    tk.translate += dt;
    tk.transcribe += dt;
    tk.solm += dt;
    tk.prev += dt;
    tk.nosp += dt;
    tk.not_ts += dt;
    tk.beg += dt;
  }
  if (vocab_.size() > static_cast<size_t>(hp.n_vocab)) vocab_.resize(hp.n_vocab);
  for (int32_t i = static_cast<int32_t>(vocab_.size()); i < hp.n_vocab; ++i) {
    std::string w;
    if (i > tk.beg) w = "[_TT_" + std::to_string(i - tk.beg) + "]";
    else if (i == tk.eot) w = "[_EOT_]";
    else if (i == tk.sot) w = "[_SOT_]";
    else if (i == tk.translate) w = "[_TRANSLATE_]";
    else if (i == tk.transcribe) w = "[_TRANSCRIBE_]";
    else if (i == tk.solm) w = "[_SOLM_]";
    else if (i == tk.prev) w = "[_PREV_]";
    else if (i == tk.nosp) w = "[_NOSP_]";
    else if (i == tk.not_ts) w = "[_NOT_]";
    else if (i == tk.beg) w = "[_BEG_]";
    else if (i > tk.sot && i <= tk.sot + tk.n_languages) w = "[_LANG_" + std::to_string(i) + "]";
    else w = "[_extra_token_" + std::to_string(i) + "]";
    vocab_.push_back(std::move(w));
  }
  if (const int32_t sp = find_token(" "); sp >= 0) tk.space = sp;

  const int64_t ns = hp.n_audio_state, nm = hp.n_mels, nt = hp.n_text_state;
  const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };

  // Convolutions: ggml ne [3, n_in, n_out] is row-major [n_out][n_in][3]; one row per output
  // channel holds exactly the im2col layout (input channel major, tap minor).
  {
    const auto& c1 = tensor("encoder.conv1.weight", {3, u(nm), u(ns)});
    const auto& c2 = tensor("encoder.conv2.weight", {3, u(ns), u(ns)});
    for (const auto* c : {&c1, &c2}) {
      if (c->type != DType::F32 && c->type != DType::F16) {
        throw FormatError(path + ": whisper tensor '" + c->name + "' must be f32 or f16");
      }
    }
    auto bind_conv = [&](const ggml::TensorInfo& t, int64_t cols) {
      WhisperMatrix m{t.type, t.data, ns, cols};
      auto& buf = owned_.emplace_back((t.n_bytes + 3) / 4);
      std::memcpy(buf.data(), t.data, t.n_bytes);
      m.data = buf.data();
      return m;
    };
    conv1_w = bind_conv(c1, nm * 3);
    conv2_w = bind_conv(c2, ns * 3);
  }
  conv1_b = floats("encoder.conv1.bias", {1, u(ns)});
  conv2_b = floats("encoder.conv2.bias", {1, u(ns)});
  enc_pos = floats("encoder.positional_embedding", {u(ns), u(hp.n_audio_ctx)});
  for (int l = 0; l < hp.n_audio_layer; ++l) {
    const std::string p = "encoder.blocks." + std::to_string(l);
    WhisperEncoderLayer L;
    L.attn_ln = norm(p + ".attn_ln", ns);
    L.attn = attention(p + ".attn", ns);
    L.mlp_ln = norm(p + ".mlp_ln", ns);
    L.fc1 = linear(p + ".mlp.0", ns, 4 * ns, true);
    L.fc2 = linear(p + ".mlp.2", 4 * ns, ns, true);
    enc_layers.push_back(std::move(L));
  }
  ln_post = norm("encoder.ln_post", ns);

  token_embedding = matrix("decoder.token_embedding.weight", nt, hp.n_vocab, true);
  dec_pos = floats("decoder.positional_embedding", {u(nt), u(hp.n_text_ctx)});
  for (int l = 0; l < hp.n_text_layer; ++l) {
    const std::string p = "decoder.blocks." + std::to_string(l);
    WhisperDecoderLayer L;
    L.attn_ln = norm(p + ".attn_ln", nt);
    L.attn = attention(p + ".attn", nt);
    L.cross_ln = norm(p + ".cross_attn_ln", nt);
    L.cross = attention(p + ".cross_attn", nt);
    L.mlp_ln = norm(p + ".mlp_ln", nt);
    L.fc1 = linear(p + ".mlp.0", nt, 4 * nt, true);
    L.fc2 = linear(p + ".mlp.2", 4 * nt, nt, true);
    dec_layers.push_back(std::move(L));
  }
  dec_ln = norm("decoder.ln", nt);
}

}  // namespace omni::asr
