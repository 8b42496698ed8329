#include "llm/decode_matvec.h"

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"

namespace omni::llm {
namespace {

// Bytes per piece: small enough that the pool's few chunks per thread balance the two threads
// to within a few microseconds, large enough that bookkeeping stays negligible.
constexpr uint64_t kPieceBytes = 16 << 10;
// How far ahead of the row being multiplied its weight bytes are requested into L2 (the
// hardware prefetcher stops at every 4 KiB page and at every new matrix).
constexpr uint64_t kAhead = 16 << 10;

struct Piece {
  const uint8_t* w;  // first row
  uint64_t rb;       // bytes per row
  uint32_t job;
  uint32_t row0, rows;
};

struct Job {
  kernels::DotFn dot;
  bool f16;
  const void* act;
  int64_t cols;
  float* y;
};

// Walks the bytes of pieces [pf, end) in order, issuing prefetches up to a target position.
struct Prefetcher {
  const Piece* pieces;
  size_t piece, end;
  uint64_t off = 0;  // within pieces[piece]
  uint64_t issued = 0, consumed = 0;
  void run_to(uint64_t target) {
    while (issued < target && piece < end) {
      const Piece& p = pieces[piece];
      const uint64_t bytes = p.rb * p.rows;
      for (; off < bytes && issued < target; off += 64, issued += 64) {
        __builtin_prefetch(p.w + off, 0, 2);
      }
      if (off >= bytes) {
        issued += off - bytes;  // round to the piece end
        ++piece;
        off = 0;
      }
    }
  }
};

}  // namespace

void decode_matvec(std::span<const MatvecJob> jobs, ThreadPool& pool) {
  const kernels::KernelTable& kt = kernels::active();
  thread_local std::vector<Job> js;
  thread_local std::vector<Piece> pieces;
  js.clear();
  pieces.clear();
  for (const MatvecJob& j : jobs) {
    const gguf::TensorInfo& w = *j.w;
    const auto rows = static_cast<uint32_t>(w.rows());
    const auto cols = static_cast<int64_t>(w.shape[0]);
    if (kernels::act_format(w.type) != j.act->format() || j.act->cols() != cols || j.act->rows() != 1) {
      throw Error("decode_matvec: activations do not match " + w.name);
    }
    const uint64_t rb = w.n_bytes / rows;
    const bool f16 = w.type == DType::F16 && kt.matvec_f16 != nullptr;
    js.push_back({kernels::dot_fn(w.type, kt), f16, j.act->row(0), cols, j.y});
    const auto per = static_cast<uint32_t>(std::max<uint64_t>(1, kPieceBytes / rb));
    for (uint32_t r = 0; r < rows; r += per) {
      pieces.push_back({w.data + r * rb, rb, static_cast<uint32_t>(js.size() - 1), r, std::min(per, rows - r)});
    }
  }
  const Piece* ps = pieces.data();
  const Job* jb = js.data();
  pool.parallel_for(static_cast<int64_t>(pieces.size()), [&](int64_t b, int64_t e) {
    Prefetcher pf{ps, static_cast<size_t>(b), static_cast<size_t>(e)};
    for (int64_t i = b; i < e; ++i) {
      const Piece& p = ps[i];
      const Job& j = jb[p.job];
      if (j.f16) {
        pf.consumed += p.rb * p.rows;
        pf.run_to(pf.consumed + kAhead);
        kt.matvec_f16(reinterpret_cast<const uint16_t*>(p.w), j.cols, p.rows,
                      static_cast<const float*>(j.act), j.cols, j.y + p.row0);
        continue;
      }
      for (uint32_t r = 0; r < p.rows; ++r) {
        pf.consumed += p.rb;
        pf.run_to(pf.consumed + kAhead);
        j.y[p.row0 + r] = j.dot(p.w + uint64_t{r} * p.rb, j.act, j.cols);
      }
    }
  });
}

}  // namespace omni::llm
