// Single-token products of one decode step, several matrices per pool dispatch. A token's
// forward pass is a chain of small matrix-vector products (the K and V projections of a 0.5B
// model are 128 rows, 64 KiB at 4 bits); one dispatch and one barrier each left the second
// thread waiting more than working on them. Here Q, K and V (or gate and up) go out as one
// stream of weight bytes cut into pieces of about equal size, and each thread prefetches ahead
// along its share across matrix boundaries, so the stream does not restart at every matrix.
// Not on the decode path at present: after the 4-stream single-token kernels landed, under-load
// A/B runs of whole tokens did not favour it over one kernels::matmul per matrix; kept (with its
// exactness tests) for a quiet-machine A/B. prefetch_first_run below is used by attention.
#pragma once

#include <cstdint>
#include <span>

#include "core/gguf.h"
#include "core/kernels.h"

namespace omni {
class ThreadPool;
}

namespace omni::llm {

struct MatvecJob {
  const gguf::TensorInfo* w;          // rows x cols in any type kernels::matmul takes
  const kernels::Activations* act;    // one row, prepared for w's type
  float* y;                           // w->rows() outputs
};

// y = W x for every job, on all threads of `pool`. Each output is the level's dot of its row
// (for F16 the level's matvec_f16, equal to the dot bit for bit), exactly what kernels::matmul
// returns for one activation row, whichever thread computes it.
void decode_matvec(std::span<const MatvecJob> jobs, ThreadPool& pool);

// Requests into the cache part `part` of `parts` of the weight bytes that decode_matvec first
// hands to thread `slot` of `threads` when `w` is the first matrix of its jobs (the calling
// thread is slot 0: it starts first). Threads that would otherwise wait for each other during
// attention fetch the next product's opening bytes with it; values are unchanged, and a guess
// that turns out wrong only moves bytes early into another core's cache.
void prefetch_first_run(const gguf::TensorInfo& w, int slot, int threads, int part, int parts);

}  // namespace omni::llm
