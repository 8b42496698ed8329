#include "core/dtype.h"

#include <array>
#include <cctype>

namespace omni {
namespace {

constexpr uint32_t QK_K = 256;

constexpr std::array kTypes = {
    DTypeInfo{DType::F32, "f32", 1, 4, false},
    DTypeInfo{DType::F16, "f16", 1, 2, false},
    DTypeInfo{DType::Q4_0, "q4_0", 32, 2 + 16, true},
    DTypeInfo{DType::Q4_1, "q4_1", 32, 2 + 2 + 16, true},
    DTypeInfo{DType::Q5_0, "q5_0", 32, 2 + 4 + 16, true},
    DTypeInfo{DType::Q5_1, "q5_1", 32, 2 + 2 + 4 + 16, true},
    DTypeInfo{DType::Q8_0, "q8_0", 32, 2 + 32, true},
    DTypeInfo{DType::Q8_1, "q8_1", 32, 4 + 32, true},
    DTypeInfo{DType::Q2_K, "q2_K", QK_K, QK_K / 16 + QK_K / 4 + 2 + 2, true},
    DTypeInfo{DType::Q3_K, "q3_K", QK_K, QK_K / 8 + QK_K / 4 + 12 + 2, true},
    DTypeInfo{DType::Q4_K, "q4_K", QK_K, 2 + 2 + 12 + QK_K / 2, true},
    DTypeInfo{DType::Q5_K, "q5_K", QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2, true},
    DTypeInfo{DType::Q6_K, "q6_K", QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2, true},
    DTypeInfo{DType::Q8_K, "q8_K", QK_K, 4 + QK_K + QK_K / 16 * 2, true},
    DTypeInfo{DType::IQ2_XXS, "iq2_xxs", QK_K, 2 + QK_K / 8 * 2, true},
    DTypeInfo{DType::IQ2_XS, "iq2_xs", QK_K, 2 + QK_K / 8 * 2 + QK_K / 32, true},
    DTypeInfo{DType::IQ3_XXS, "iq3_xxs", QK_K, 2 + QK_K / 4 + QK_K / 8, true},
    DTypeInfo{DType::IQ1_S, "iq1_s", QK_K, 2 + QK_K / 8 + QK_K / 16, true},
    DTypeInfo{DType::IQ4_NL, "iq4_nl", 32, 2 + 16, true},
    DTypeInfo{DType::IQ3_S, "iq3_s", QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4, true},
    DTypeInfo{DType::IQ2_S, "iq2_s", QK_K, 2 + QK_K / 4 + QK_K / 16, true},
    DTypeInfo{DType::IQ4_XS, "iq4_xs", QK_K, 2 + 2 + QK_K / 64 + QK_K / 2, true},
    DTypeInfo{DType::I8, "i8", 1, 1, false},
    DTypeInfo{DType::I16, "i16", 1, 2, false},
    DTypeInfo{DType::I32, "i32", 1, 4, false},
    DTypeInfo{DType::I64, "i64", 1, 8, false},
    DTypeInfo{DType::F64, "f64", 1, 8, false},
    DTypeInfo{DType::IQ1_M, "iq1_m", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32, true},
    DTypeInfo{DType::BF16, "bf16", 1, 2, false},
    DTypeInfo{DType::TQ1_0, "tq1_0", QK_K, 2 + (QK_K - 4 * QK_K / 64) / 5 + QK_K / 64, true},
    DTypeInfo{DType::TQ2_0, "tq2_0", QK_K, 2 + QK_K / 4, true},
};

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

std::optional<DTypeInfo> dtype_info(uint32_t id) {
  for (const auto& t : kTypes) {
    if (static_cast<uint32_t>(t.type) == id) return t;
  }
  return std::nullopt;
}

const DTypeInfo& dtype_info(DType t) {
  for (const auto& i : kTypes) {
    if (i.type == t) return i;
  }
  return kTypes[0];  // unreachable for defined enumerators
}

std::string_view dtype_name(DType t) { return dtype_info(t).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& t : kTypes) {
    if (iequal(t.name, name)) return t.type;
  }
  return std::nullopt;
}

std::optional<uint64_t> row_bytes(DType t, uint64_t n) {
  const auto& i = dtype_info(t);
  if (n % i.block_size != 0) return std::nullopt;
  const uint64_t blocks = n / i.block_size;
  // Sizes may come from untrusted files: refuse a product that would wrap.
  if (blocks > UINT64_MAX / i.type_size) return std::nullopt;
  return blocks * i.type_size;
}

}  // namespace omni
