#include "whisper_gen.h"

#include <cmath>
#include <numbers>

#include "core/dtype.h"
#include "core/error.h"
#include "core/ggml_file.h"
#include "core/quant.h"
#include "rng.h"

namespace omni::gen {
namespace {

// Slaney mel scale: linear below 1 kHz, logarithmic above.
double hz_to_mel(double f) {
  constexpr double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  return f < min_log_hz ? f / f_sp : min_log_mel + std::log(f / min_log_hz) / logstep;
}
double mel_to_hz(double m) {
  constexpr double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  return m < min_log_mel ? f_sp * m : min_log_hz * std::exp(logstep * (m - min_log_mel));
}

}  // namespace

std::vector<float> whisper_mel_filters(int n_mels) {
  constexpr int n_fft = 400, n_freq = n_fft / 2 + 1;
  constexpr double sr = 16000.0;
  std::vector<double> fft_freqs(n_freq), mel_f(n_mels + 2);
  for (int i = 0; i < n_freq; ++i) fft_freqs[i] = i * sr / n_fft;
  const double mel_min = hz_to_mel(0.0), mel_max = hz_to_mel(sr / 2);
  for (int i = 0; i < n_mels + 2; ++i) {
    mel_f[i] = mel_to_hz(mel_min + (mel_max - mel_min) * i / (n_mels + 1));
  }
  std::vector<float> out(static_cast<size_t>(n_mels) * n_freq);
  for (int m = 0; m < n_mels; ++m) {
    const double lo = mel_f[m], ce = mel_f[m + 1], hi = mel_f[m + 2];
    const double enorm = 2.0 / (hi - lo);
    for (int k = 0; k < n_freq; ++k) {
      const double lower = (fft_freqs[k] - lo) / (ce - lo);
      const double upper = (hi - fft_freqs[k]) / (hi - ce);
      out[static_cast<size_t>(m) * n_freq + k] =
          static_cast<float>(std::max(0.0, std::min(lower, upper)) * enorm);
    }
  }
  return out;
}

std::optional<WhisperShape> whisper_preset(const std::string& full) {
  std::string name = full;
  bool en = false;
  if (name.size() > 3 && name.ends_with(".en")) {
    en = true;
    name.resize(name.size() - 3);
  }
  WhisperShape s;
  auto set = [&](int state, int heads, int layers) {
    s.n_audio_state = s.n_text_state = state;
    s.n_audio_head = s.n_text_head = heads;
    s.n_audio_layer = s.n_text_layer = layers;
  };
  if (name == "whisper-tiny") set(384, 6, 4);
  else if (name == "whisper-base") set(512, 8, 6);
  else if (name == "whisper-small") set(768, 12, 12);
  else if (name == "whisper-medium") set(1024, 16, 24);
  else if (name == "whisper-large-v3" || name == "whisper-large-v3-turbo") {
    if (en) return std::nullopt;
    set(1280, 20, 32);
    s.n_mels = 128;
    s.n_vocab = 51866;
    if (name == "whisper-large-v3-turbo") s.n_text_layer = 4;
  } else {
    return std::nullopt;
  }
  if (en) s.n_vocab = 51864;
  return s;
}

void generate_whisper(const WhisperShape& s, const WhisperGenOptions& o, const std::string& path) {
  if (s.n_audio_state <= 0 || s.n_audio_head <= 0 || s.n_audio_state % s.n_audio_head != 0 ||
      s.n_text_state <= 0 || s.n_text_head <= 0 || s.n_text_state % s.n_text_head != 0 ||
      s.n_audio_layer <= 0 || s.n_text_layer <= 0 || s.n_audio_ctx <= 0 || s.n_text_ctx <= 0 ||
      (s.n_mels != 80 && s.n_mels != 128)) {
    throw Error("omni-gen: inconsistent whisper shape");
  }
  if (o.vocab_from.empty()) throw Error("omni-gen: --vocab-from FILE.bin (a whisper ggml file) is required");
  const auto src = ggml::File::open(o.vocab_from);
  const auto wtype = dtype_from_name(o.type);
  if (!wtype || !ggml::is_supported_tensor_type(*wtype)) {
    throw Error("omni-gen: whisper weight type '" + o.type + "' is not one whisper.cpp writes");
  }
  ggml::Hparams hp;
  hp.n_vocab = s.n_vocab;
  hp.n_audio_ctx = s.n_audio_ctx;
  hp.n_audio_state = s.n_audio_state;
  hp.n_audio_head = s.n_audio_head;
  hp.n_audio_layer = s.n_audio_layer;
  hp.n_text_ctx = s.n_text_ctx;
  hp.n_text_state = s.n_text_state;
  hp.n_text_head = s.n_text_head;
  hp.n_text_layer = s.n_text_layer;
  hp.n_mels = s.n_mels;
  // ggml_ftype numbers: 0 f32, 1 f16, 2 q4_0, 3 q4_1, 7 q8_0, 8 q5_0, 9 q5_1; quantized files
  // carry quantization version 2 (x1000) as whisper.cpp's quantizer writes.
  switch (*wtype) {
    case DType::F32: hp.ftype = 0; break;
    case DType::F16: hp.ftype = 1; break;
    case DType::Q4_0: hp.ftype = 2002; break;
    case DType::Q4_1: hp.ftype = 2003; break;
    case DType::Q8_0: hp.ftype = 2007; break;
    case DType::Q5_0: hp.ftype = 2008; break;
    case DType::Q5_1: hp.ftype = 2009; break;
    default: throw Error("omni-gen: unsupported whisper weight type");
  }
  ggml::MelFilters filters;
  filters.n_mel = s.n_mels;
  filters.n_fft = 201;
  filters.data = whisper_mel_filters(s.n_mels);
  ggml::Writer w(hp, std::move(filters), src.vocab());

  uint64_t stream = 0;
  std::vector<float> buf;
  auto add = [&](const std::string& name, std::vector<uint64_t> shape, bool matrix, int fill) {
    uint64_t n = 1;
    for (auto d : shape) n *= d;
    buf.assign(n, 0.0f);
    ++stream;
    if (fill == 1) {
      std::fill(buf.begin(), buf.end(), 1.0f);
    } else if (fill == 2) {
      fill_normal(buf.data(), n, o.seed, stream, o.stddev);
    }
    DType t = DType::F32;
    if (matrix) {
      t = *wtype;
      // Quantized types need whole blocks per row; whisper.cpp keeps such tensors in f16.
      if (shape[0] % dtype_info(t).block_size != 0) t = DType::F16;
    }
    const uint64_t rb = *row_bytes(t, shape[0]);
    std::vector<uint8_t> bytes(rb * (n / shape[0]));
    quantize_tensor(t, buf.data(), bytes.data(), static_cast<int64_t>(n / shape[0]),
                    static_cast<int64_t>(shape[0]));
    w.add_tensor(name, t, std::move(shape), bytes);
  };
  auto add_sinusoids = [&](const std::string& name, uint64_t channels, uint64_t length) {
    // Whisper's encoder positions: sin of the first half of channels, cos of the second.
    std::vector<float> pe(channels * length);
    const uint64_t half = channels / 2;
    const double inc = std::log(10000.0) / static_cast<double>(half - 1);
    for (uint64_t t = 0; t < length; ++t) {
      for (uint64_t i = 0; i < half; ++i) {
        const double a = static_cast<double>(t) * std::exp(-inc * static_cast<double>(i));
        pe[t * channels + i] = static_cast<float>(std::sin(a));
        pe[t * channels + half + i] = static_cast<float>(std::cos(a));
      }
    }
    w.add_tensor(name, DType::F32, {channels, length},
                 {reinterpret_cast<const uint8_t*>(pe.data()), pe.size() * sizeof(float)});
    ++stream;
  };
  auto block = [&](const std::string& p, uint64_t d, bool cross) {
    auto attn = [&](const std::string& a) {
      add(p + a + ".query.weight", {d, d}, true, 2);
      add(p + a + ".query.bias", {d}, false, 2);
      add(p + a + ".key.weight", {d, d}, true, 2);
      add(p + a + ".value.weight", {d, d}, true, 2);
      add(p + a + ".value.bias", {d}, false, 2);
      add(p + a + ".out.weight", {d, d}, true, 2);
      add(p + a + ".out.bias", {d}, false, 2);
      add(p + a + "_ln.weight", {d}, false, 1);
      add(p + a + "_ln.bias", {d}, false, 0);
    };
    attn("attn");
    if (cross) attn("cross_attn");
    add(p + "mlp.0.weight", {d, 4 * d}, true, 2);
    add(p + "mlp.0.bias", {4 * d}, false, 2);
    add(p + "mlp.2.weight", {4 * d, d}, true, 2);
    add(p + "mlp.2.bias", {d}, false, 2);
    add(p + "mlp_ln.weight", {d}, false, 1);
    add(p + "mlp_ln.bias", {d}, false, 0);
  };

  const uint64_t da = static_cast<uint64_t>(s.n_audio_state), dt = static_cast<uint64_t>(s.n_text_state);
  add_sinusoids("encoder.positional_embedding", da, static_cast<uint64_t>(s.n_audio_ctx));
  // Convolution kernels stay f16 even in quantized files (whisper.cpp does not quantize them).
  const DType conv_type = *wtype == DType::F32 ? DType::F32 : DType::F16;
  auto add_conv = [&](const std::string& name, uint64_t in) {
    std::vector<uint64_t> shape = {3, in, da};
    uint64_t n = 3 * in * da;
    buf.assign(n, 0.0f);
    fill_normal(buf.data(), n, o.seed, ++stream, o.stddev);
    std::vector<uint8_t> bytes(*row_bytes(conv_type, n));
    quantize_row(conv_type, buf.data(), bytes.data(), static_cast<int64_t>(n));
    w.add_tensor(name, conv_type, shape, bytes);
  };
  add_conv("encoder.conv1.weight", static_cast<uint64_t>(s.n_mels));
  add("encoder.conv1.bias", {1, da}, false, 2);
  add_conv("encoder.conv2.weight", da);
  add("encoder.conv2.bias", {1, da}, false, 2);
  for (int i = 0; i < s.n_audio_layer; ++i) block("encoder.blocks." + std::to_string(i) + ".", da, false);
  add("encoder.ln_post.weight", {da}, false, 1);
  add("encoder.ln_post.bias", {da}, false, 0);

  add("decoder.positional_embedding", {dt, static_cast<uint64_t>(s.n_text_ctx)}, false, 2);
  add("decoder.token_embedding.weight", {dt, static_cast<uint64_t>(s.n_vocab)}, true, 2);
  for (int i = 0; i < s.n_text_layer; ++i) block("decoder.blocks." + std::to_string(i) + ".", dt, true);
  add("decoder.ln.weight", {dt}, false, 1);
  add("decoder.ln.bias", {dt}, false, 0);
  w.write(path);
}

}  // namespace omni::gen
