#include "llm/decode_matvec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "core/kernels_test_util.h"
#include "core/thread_pool.h"

namespace omni::llm {
namespace {

struct Matrix {
  std::vector<uint8_t> bytes;
  gguf::TensorInfo info;
};

Matrix random_matrix(std::mt19937& rng, DType t, uint64_t rows, uint64_t cols) {
  Matrix m;
  const auto n = static_cast<int64_t>(rows * cols);
  if (t == DType::F32 || t == DType::F16) {
    const auto f = kernels::testing::random_floats(rng, n);
    m.bytes.resize(f.size() * (t == DType::F32 ? 4 : 2));
    for (size_t i = 0; i < f.size(); ++i) {
      if (t == DType::F32) {
        std::memcpy(m.bytes.data() + 4 * i, &f[i], 4);
      } else {
        const uint16_t h = fp32_to_fp16(f[i]);
        std::memcpy(m.bytes.data() + 2 * i, &h, 2);
      }
    }
  } else {
    m.bytes = kernels::testing::random_quant_row(rng, t, n);
  }
  m.info.name = "w." + std::string(dtype_name(t));
  m.info.shape = {cols, rows};
  m.info.type = t;
  m.info.n_elements = rows * cols;
  m.info.n_bytes = m.bytes.size();
  m.info.data = m.bytes.data();
  return m;
}

// One dispatch over several matrices gives what kernels::matmul gives for each alone, bit for
// bit, whatever the thread count: matrices of 1 row to many 16 KiB pieces, mixed weight types
// sharing one activation format (Q4_K with Q6_K, as in Q4_K_M files) and float types.
TEST(DecodeMatvec, EqualsMatmulPerMatrixAtAnyThreadCount) {
  std::mt19937 rng(3);
  ThreadPool one(1), two(2), three(3);
  const std::vector<std::vector<DType>> sets = {
      {DType::Q4_0, DType::Q4_0, DType::Q4_0}, {DType::Q8_0}, {DType::Q4_K, DType::Q6_K, DType::Q4_K},
      {DType::F16, DType::F16}, {DType::F32, DType::F32}, {DType::Q5_0, DType::Q4_1}};
  for (const uint64_t cols : {256u, 1024u}) {
    for (const auto& types : sets) {
      const uint64_t rows[] = {301, 1, 77};
      std::vector<Matrix> ms;
      for (size_t i = 0; i < types.size(); ++i) ms.push_back(random_matrix(rng, types[i], rows[i], cols));
      const auto x = kernels::testing::random_floats(rng, static_cast<int64_t>(cols));
      std::vector<kernels::Activations> acts(ms.size());
      std::vector<std::vector<float>> expect(ms.size());
      for (size_t i = 0; i < ms.size(); ++i) {
        const gguf::TensorInfo& w = ms[i].info;
        acts[i].quantize(w.type, x.data(), 1, static_cast<int64_t>(cols));
        expect[i].resize(w.rows());
        kernels::matmul(w.type, w.data, static_cast<int64_t>(w.rows()), acts[i], expect[i].data(), &one);
      }
      for (ThreadPool* pool : {&one, &two, &three}) {
        std::vector<std::vector<float>> got(ms.size());
        std::vector<MatvecJob> jobs;
        for (size_t i = 0; i < ms.size(); ++i) {
          got[i].assign(ms[i].info.rows(), -1.0f);
          jobs.push_back({&ms[i].info, &acts[i], got[i].data()});
        }
        decode_matvec(jobs, *pool);
        for (size_t i = 0; i < ms.size(); ++i) {
          EXPECT_EQ(0, std::memcmp(got[i].data(), expect[i].data(), expect[i].size() * 4))
              << ms[i].info.name << " cols " << cols << " threads " << pool->size();
        }
      }
    }
  }
}

TEST(DecodeMatvec, RejectsActivationsOfAnotherShapeOrFormat) {
  std::mt19937 rng(4);
  ThreadPool two(2);
  Matrix m = random_matrix(rng, DType::Q4_0, 8, 256);
  const auto x = kernels::testing::random_floats(rng, 512);
  std::vector<float> y(8);
  kernels::Activations wrong_cols, wrong_fmt, two_rows;
  wrong_cols.quantize(DType::Q4_0, x.data(), 1, 512);
  wrong_fmt.quantize(DType::Q4_K, x.data(), 1, 256);
  two_rows.quantize(DType::Q4_0, x.data(), 2, 256);
  for (const kernels::Activations* a : {&wrong_cols, &wrong_fmt, &two_rows}) {
    const MatvecJob job{&m.info, a, y.data()};
    EXPECT_THROW(decode_matvec({&job, 1}, two), Error);
  }
}

}  // namespace
}  // namespace omni::llm
