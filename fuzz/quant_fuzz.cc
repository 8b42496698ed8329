// libFuzzer target: dequantization of arbitrary block bytes and quantization of arbitrary floats
// (NaN, infinities, huge and subnormal values) for every supported type. Nothing may crash or
// trip the sanitizers; quantizing then dequantizing must stay within the buffers.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "core/quant.h"

namespace {

constexpr omni::DType kTypes[] = {
    omni::DType::F32,  omni::DType::F16,  omni::DType::BF16, omni::DType::Q4_0,
    omni::DType::Q4_1, omni::DType::Q5_0, omni::DType::Q5_1, omni::DType::Q8_0,
    omni::DType::Q8_1, omni::DType::Q2_K, omni::DType::Q3_K, omni::DType::Q4_K,
    omni::DType::Q5_K, omni::DType::Q6_K, omni::DType::Q8_K, omni::DType::IQ4_NL,
    omni::DType::IQ4_XS};

volatile float g_sink;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const omni::DType t = kTypes[data[0] % (sizeof kTypes / sizeof kTypes[0])];
  const auto& info = omni::dtype_info(t);
  const uint8_t* p = data + 1;
  const size_t n_bytes = size - 1;

  // The bytes as blocks.
  const int64_t blocks = static_cast<int64_t>(n_bytes / info.type_size);
  const int64_t n = blocks * info.block_size;
  std::vector<float> y(static_cast<size_t>(n));
  omni::dequantize_row(t, p, y.data(), n);
  float s = 0;
  for (float v : y) s += v;

  // The bytes as floats, padded with zeros to whole blocks.
  if (omni::can_quantize(t)) {
    const size_t nf = n_bytes / 4;
    const size_t padded = (nf + info.block_size - 1) / info.block_size * info.block_size;
    std::vector<float> x(padded, 0.0f);
    if (nf > 0) std::memcpy(x.data(), p, nf * 4);
    std::vector<uint8_t> q(*omni::row_bytes(t, padded));
    const size_t written = omni::quantize_row(t, x.data(), q.data(), static_cast<int64_t>(padded));
    if (written != q.size()) __builtin_trap();
    omni::dequantize_row(t, q.data(), x.data(), static_cast<int64_t>(padded));
    for (float v : x) s += v;
  }
  g_sink = s;
  return 0;
}
