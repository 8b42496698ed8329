// Throughput of the scalar reference (de)quantizers on one 4096-element row. Bytes processed are
// counted on the float side (4096 * 4 bytes) so the types compare directly.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "core/quant.h"

namespace {

constexpr int64_t kRow = 4096;

std::vector<float> row_data() {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.f, 0.02f);
  std::vector<float> x(kRow);
  for (auto& v : x) v = normal(rng);
  return x;
}

void BM_Dequantize(benchmark::State& state, omni::DType t) {
  const auto x = row_data();
  std::vector<uint8_t> q(*omni::row_bytes(t, kRow));
  omni::quantize_row(t, x.data(), q.data(), kRow);
  std::vector<float> y(kRow);
  for (auto _ : state) {
    omni::dequantize_row(t, q.data(), y.data(), kRow);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * kRow * static_cast<int64_t>(sizeof(float)));
}

void BM_Quantize(benchmark::State& state, omni::DType t) {
  const auto x = row_data();
  std::vector<uint8_t> q(*omni::row_bytes(t, kRow));
  for (auto _ : state) {
    omni::quantize_row(t, x.data(), q.data(), kRow);
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * kRow * static_cast<int64_t>(sizeof(float)));
}

using omni::DType;

BENCHMARK_CAPTURE(BM_Dequantize, f16, DType::F16);
BENCHMARK_CAPTURE(BM_Dequantize, bf16, DType::BF16);
BENCHMARK_CAPTURE(BM_Dequantize, q4_0, DType::Q4_0);
BENCHMARK_CAPTURE(BM_Dequantize, q4_1, DType::Q4_1);
BENCHMARK_CAPTURE(BM_Dequantize, q5_0, DType::Q5_0);
BENCHMARK_CAPTURE(BM_Dequantize, q8_0, DType::Q8_0);
BENCHMARK_CAPTURE(BM_Dequantize, q2_K, DType::Q2_K);
BENCHMARK_CAPTURE(BM_Dequantize, q3_K, DType::Q3_K);
BENCHMARK_CAPTURE(BM_Dequantize, q4_K, DType::Q4_K);
BENCHMARK_CAPTURE(BM_Dequantize, q5_K, DType::Q5_K);
BENCHMARK_CAPTURE(BM_Dequantize, q6_K, DType::Q6_K);
BENCHMARK_CAPTURE(BM_Dequantize, iq4_nl, DType::IQ4_NL);
BENCHMARK_CAPTURE(BM_Dequantize, iq4_xs, DType::IQ4_XS);

BENCHMARK_CAPTURE(BM_Quantize, f16, DType::F16);
BENCHMARK_CAPTURE(BM_Quantize, bf16, DType::BF16);
BENCHMARK_CAPTURE(BM_Quantize, q4_0, DType::Q4_0);
BENCHMARK_CAPTURE(BM_Quantize, q8_0, DType::Q8_0);
BENCHMARK_CAPTURE(BM_Quantize, q8_K, DType::Q8_K);
BENCHMARK_CAPTURE(BM_Quantize, q2_K, DType::Q2_K);
BENCHMARK_CAPTURE(BM_Quantize, q3_K, DType::Q3_K);
BENCHMARK_CAPTURE(BM_Quantize, q4_K, DType::Q4_K);
BENCHMARK_CAPTURE(BM_Quantize, q5_K, DType::Q5_K);
BENCHMARK_CAPTURE(BM_Quantize, q6_K, DType::Q6_K);
BENCHMARK_CAPTURE(BM_Quantize, iq4_nl, DType::IQ4_NL);
BENCHMARK_CAPTURE(BM_Quantize, iq4_xs, DType::IQ4_XS);

}  // namespace
