#include "core/quant.h"

#include <climits>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/half.h"
#include "core/quant_impl.h"

namespace omni {
namespace {

using quant_impl::DeqFn;
using quant_impl::QuantFn;

[[noreturn]] void unsupported(const char* what, DType t) {
  throw Error(std::string(what) + ": type " + std::string(dtype_name(t)) + " is not supported");
}

int64_t checked_blocks(const char* what, DType t, int64_t n) {
  const auto& info = dtype_info(t);
  if (n < 0 || n % info.block_size != 0) {
    throw Error(std::string(what) + ": " + std::to_string(n) + " elements is not a multiple of " +
                std::string(info.name) + "'s block size " + std::to_string(info.block_size));
  }
  return n / info.block_size;
}

DeqFn deq_fn(DType t) { return quant_impl::dequantizer(t); }

QuantFn quant_fn(DType t) {
  if (auto f = quant_impl::legacy_quantizer(t)) return f;
  if (auto f = quant_impl::k_quantizer(t)) return f;
  return quant_impl::iq4_quantizer(t);
}

bool is_plain_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

int64_t checked_elements(const char* what, int64_t rows, int64_t row_len) {
  if (rows < 0 || row_len < 0 || (row_len > 0 && rows > INT64_MAX / row_len)) {
    throw Error(std::string(what) + ": bad tensor shape " + std::to_string(rows) + " x " +
                std::to_string(row_len));
  }
  return rows * row_len;
}

}  // namespace

bool can_dequantize(DType t) { return is_plain_float(t) || deq_fn(t) != nullptr; }
bool can_quantize(DType t) { return is_plain_float(t) || quant_fn(t) != nullptr; }

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  if (!can_dequantize(t)) unsupported("dequantize", t);
  const int64_t nb = checked_blocks("dequantize", t, n);
  switch (t) {
    case DType::F32:
      if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::F16:
    case DType::BF16: {
      const auto* p = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        dst[i] = t == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
      }
      return;
    }
    default:
      deq_fn(t)(src, dst, nb);
  }
}

void dequantize_tensor(DType t, const void* src, float* dst, int64_t rows, int64_t row_len) {
  if (!can_dequantize(t)) unsupported("dequantize", t);
  checked_elements("dequantize", rows, row_len);
  checked_blocks("dequantize", t, row_len);
  // Rows are whole blocks, so the tensor is one long row.
  dequantize_row(t, src, dst, rows * row_len);
}

std::vector<float> to_f32(DType t, std::span<const uint8_t> bytes, int64_t rows, int64_t row_len) {
  if (!can_dequantize(t)) unsupported("dequantize", t);
  const int64_t n = checked_elements("dequantize", rows, row_len);
  checked_blocks("dequantize", t, row_len);
  const auto& info = dtype_info(t);
  const uint64_t need = static_cast<uint64_t>(n / info.block_size) * info.type_size;
  if (bytes.size() != need) {
    throw Error("dequantize: " + std::string(info.name) + " tensor of " + std::to_string(rows) +
                " x " + std::to_string(row_len) + " needs " + std::to_string(need) +
                " bytes, got " + std::to_string(bytes.size()));
  }
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(t, bytes.data(), out.data(), n);
  return out;
}

size_t quantize_row(DType t, const float* src, void* dst, int64_t n) {
  if (!can_quantize(t)) unsupported("quantize", t);
  const int64_t nb = checked_blocks("quantize", t, n);
  auto* p = static_cast<uint8_t*>(dst);
  switch (t) {
    case DType::F32:
      if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      break;
    case DType::F16:
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = t == DType::F16 ? fp32_to_fp16(src[i]) : fp32_to_bf16(src[i]);
        std::memcpy(p + 2 * i, &h, 2);
      }
      break;
    default:
      quant_fn(t)(src, dst, nb);
  }
  return static_cast<size_t>(nb) * dtype_info(t).type_size;
}

size_t quantize_tensor(DType t, const float* src, void* dst, int64_t rows, int64_t row_len) {
  if (!can_quantize(t)) unsupported("quantize", t);
  checked_elements("quantize", rows, row_len);
  checked_blocks("quantize", t, row_len);
  return quantize_row(t, src, dst, rows * row_len);
}

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  quant_fn(DType::Q8_0)(x, y, checked_blocks("quantize_row_q8_0", DType::Q8_0, n));
}

void quantize_row_q8_K(const float* x, BlockQ8_K* y, int64_t n) {
  quant_fn(DType::Q8_K)(x, y, checked_blocks("quantize_row_q8_K", DType::Q8_K, n));
}

}  // namespace omni