#include "llm/decode_matvec.h"

#include <algorithm>
#include <atomic>
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
// Guided scheduling: a thread's next run is 1/(kRunsPerThread * threads) of the pieces left.
constexpr int kRunsPerThread = 4;

struct Piece {
  const uint8_t* w;  // first row
  uint64_t rb;       // bytes per row
  uint32_t job;
  uint32_t row0, rows;
};

struct Job {
  kernels::DotFn dot;
  kernels::KernelTable::QuantRows4Fn rows4;  // nullptr: one dot per row
  bool f16;
  const void* act;
  int64_t cols;
  float* y;
};

// Walks the bytes of pieces [piece, end) in order, issuing prefetches up to a target position
// (positions count bytes from the start of the run, as `consumed` does).
struct Prefetcher {
  const Piece* pieces;
  size_t piece, end;
  uint64_t base = 0;  // run position of pieces[piece]'s first byte
  uint64_t off = 0;   // next byte to request within pieces[piece]
  uint64_t consumed = 0;
  void run_to(uint64_t target) {
    while (base + off < target && piece < end) {
      const Piece& p = pieces[piece];
      const uint64_t bytes = p.rb * p.rows;
      for (; off < bytes && base + off < target; off += 64) __builtin_prefetch(p.w + off, 0, 2);
      if (off >= bytes) {
        base += bytes;
        ++piece;
        off = 0;
      }
    }
  }
  // Moves past bytes read without software prefetch.
  void skip_to(uint64_t pos) {
    while (base + off < pos && piece < end) {
      const Piece& p = pieces[piece];
      const uint64_t bytes = p.rb * p.rows;
      if (pos - base >= bytes) {
        base += bytes;
        ++piece;
        off = 0;
      } else {
        off = pos - base;
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
    if (kernels::act_format(w.type) != j.act->format() || j.act->cols() != cols ||
        j.act->rows() != 1) {
      throw Error("decode_matvec: activations do not match " + w.name);
    }
    if (rows == 0) continue;
    const uint64_t rb = w.n_bytes / rows;
    const bool f16 = w.type == DType::F16 && kt.matvec_f16 != nullptr;
    js.push_back({kernels::dot_fn(w.type, kt), kernels::quant_rows4_fn(w.type, kt), f16, j.act->row(0),
                  cols, j.y});
    // At least kPieceBytes, so long F16 rows still come in pairs for the kernel's two streams.
    const auto per = static_cast<uint32_t>(std::max<uint64_t>(1, (kPieceBytes + rb - 1) / rb));
    for (uint32_t r = 0; r < rows; r += per) {
      const auto job = static_cast<uint32_t>(js.size() - 1);
      pieces.push_back({w.data + r * rb, rb, job, r, std::min(per, rows - r)});
    }
  }
  const Piece* ps = pieces.data();
  const Job* jb = js.data();
  const auto run = [&](int64_t b, int64_t e) {
    Prefetcher pf{ps, static_cast<size_t>(b), static_cast<size_t>(e)};
    for (int64_t i = b; i < e;) {
      // The run's consecutive pieces of one matrix are one range of rows.
      const Piece& p = ps[i];
      const Job& j = jb[p.job];
      uint32_t rows = 0;
      for (; i < e && ps[i].job == p.job; ++i) rows += ps[i].rows;
      float* y = j.y + p.row0;
      if (j.f16) {
        pf.consumed += p.rb * rows;
        pf.skip_to(pf.consumed);
        kt.matvec_f16(reinterpret_cast<const uint16_t*>(p.w), j.cols, rows,
                      static_cast<const float*>(j.act), j.cols, y);
        continue;
      }
      uint32_t r = 0;
      if (j.rows4 != nullptr && rows >= 4) {
        // The level's 4-row kernel over 4 far-apart segments (kernels::matmul's single-token
        // loop): 4 sequential streams the hardware prefetchers follow, bit for bit the dots.
        const uint32_t seg = rows / 4;
        const uint64_t stride = uint64_t{seg} * p.rb;
        float out[4];
        for (uint32_t k = 0; k < seg; ++k) {
          j.rows4(p.w + uint64_t{k} * p.rb, stride, j.act, j.cols, out);
          for (uint32_t q = 0; q < 4; ++q) y[k + q * seg] = out[q];
        }
        r = 4 * seg;
        pf.consumed += uint64_t{r} * p.rb;
        pf.skip_to(pf.consumed);
      }
      for (; r < rows; ++r) {
        pf.consumed += p.rb;
        pf.run_to(pf.consumed + kAhead);
        y[r] = j.dot(p.w + uint64_t{r} * p.rb, j.act, j.cols);
      }
    }
  };
  // Guided self-scheduling: each thread takes a run of pieces sized to a share of what is left
  // (an eighth of the stream first at 2 threads, as the pool's chunks, single pieces at the
  // end), so a thread streams and prefetches through long contiguous runs, yet the threads
  // reach the barrier within about one piece of each other (the token waits there for the
  // slower one) and a thread that loses its core for a while leaves the rest to the other.
  const auto n = static_cast<int64_t>(pieces.size());
  const int64_t nt = pool.size();
  if (nt == 1) {
    run(0, n);
    return;
  }
  std::atomic<int64_t> next{0};
  pool.parallel_for(nt, [&](int64_t, int64_t) {
    int64_t b = next.load(std::memory_order_relaxed);
    for (;;) {
      if (b >= n) return;
      const int64_t e = std::min(n, b + std::max<int64_t>(1, (n - b) / (kRunsPerThread * nt)));
      if (next.compare_exchange_weak(b, e, std::memory_order_relaxed)) {
        run(b, e);
        b = next.load(std::memory_order_relaxed);
      }
    }
  });
}

void prefetch_first_run(const gguf::TensorInfo& w, int slot, int threads, int part, int parts) {
  // The guided schedule of decode_matvec in bytes: thread j's first run starts where j runs of
  // 1/(kRunsPerThread * t) of the rest each have gone, and is that share of what is left then.
  constexpr uint64_t kMaxRun = 256 << 10;  // an L2 share, not the whole matrix
  double start = 0;
  const auto total = static_cast<double>(w.n_bytes);
  const double frac = 1.0 / (kRunsPerThread * threads);
  for (int j = 0; j < slot; ++j) start += (total - start) * frac;
  const auto b = static_cast<uint64_t>(start);
  const uint64_t len = std::min(kMaxRun, static_cast<uint64_t>((total - start) * frac));
  const auto np = static_cast<uint64_t>(parts);
  const uint64_t pb = b + len * static_cast<uint64_t>(part) / np;
  const uint64_t pe = std::min(w.n_bytes, b + len * static_cast<uint64_t>(part + 1) / np);
  for (uint64_t o = pb & ~uint64_t{63}; o < pe; o += 64) __builtin_prefetch(w.data + o, 0, 2);
}

}  // namespace omni::llm
