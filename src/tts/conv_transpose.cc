// ConvTranspose1d (declared in vits_ops.h): the decoder's upsamplers. Output o = t*stride + kk -
// pad, so the outputs of one phase ph = o % stride form an ordinary convolution of the input
// with the taps kk = kk0 + j*stride: one GEMM per phase on the kernel of conv_gemm.h, then the
// phases are interleaved into the output rows.
//
// The work runs in blocks of input columns: a block's (activated, zero-padded) input, all its
// phases' GEMMs and the interleave stay in L2. Phase by phase over the whole input instead
// re-read the input from memory once per phase through one stream per channel (more streams
// than the prefetchers track): the GEMM then waited on its loads most of the time.
#include <algorithm>

#include "core/error.h"
#include "core/thread_pool.h"
#include "tts/conv_gemm.h"
#include "tts/vits_ops.h"
#include "tts/winograd.h"

namespace omni::tts {
namespace {

int round_up(int v, int to) { return (v + to - 1) / to * to; }

}  // namespace

PackedWeights ConvTranspose1d::pack_phase(int ph) const {
  // Phase ph uses taps kk = kk0 + j*stride; A[co, (ci, j)] = w[ci, co, kk].
  const int kk0 = (ph + pad) % stride;
  const int taps = kk0 < k ? (k - kk0 + stride - 1) / stride : 0;
  std::vector<float> a(size_t(cout) * cin * taps);
  for (int ci = 0; ci < cin; ++ci) {
    for (int j = 0; j < taps; ++j) {
      const int kk = kk0 + j * stride;
      for (int co = 0; co < cout; ++co)
        a[size_t(co) * cin * taps + size_t(ci) * taps + j] = w[(size_t(ci) * cout + co) * k + kk];
    }
  }
  PackedWeights pw;
  pw.pack(a.data(), cout, cin * taps, cin * taps);
  return pw;
}

void ConvTranspose1d::prepare(bool fast) {
  phases.clear();
  wino = WinogradConv{};
  for (int ph = 0; ph < stride; ++ph) phases.push_back(pack_phase(ph));
  if (!fast) return;
  // Phase ph reads input offsets base - j (j < taps) from its column q: their union over the
  // phases is [lo, hi].
  int lo = 1 << 30, hi = -(1 << 30);
  for (int ph = 0; ph < stride; ++ph) {
    const int kk0 = (ph + pad) % stride;
    const int base = (ph + pad - kk0) / stride;
    const int taps = kk0 < k ? (k - kk0 + stride - 1) / stride : 0;
    if (taps == 0) return;  // a phase of bias only: keep the direct form
    lo = std::min(lo, base - taps + 1);
    hi = std::max(hi, base);
  }
  const int r = hi - lo + 1;
  const int m = WinogradConv::tile_for(r, 1, stride * cout);
  if (r != 3 || m == 0) return;
  // W'[ph * cout + co][ci][off - lo] = w[ci][co][kk] for tap kk = kk0 + j * stride at offset
  // off = base - j.
  std::vector<float> wf(size_t(stride) * cout * cin * r, 0.f);
  for (int ph = 0; ph < stride; ++ph) {
    const int kk0 = (ph + pad) % stride;
    const int base = (ph + pad - kk0) / stride;
    const int taps = (k - kk0 + stride - 1) / stride;
    for (int co = 0; co < cout; ++co) {
      for (int ci = 0; ci < cin; ++ci) {
        for (int j = 0; j < taps; ++j) {
          const int kk = kk0 + j * stride;
          wf[((size_t(ph) * cout + co) * cin + ci) * r + (base - j - lo)] =
              w[(size_t(ci) * cout + co) * k + kk];
        }
      }
    }
  }
  wino.prepare(wf.data(), stride * cout, cin, r, 1, m);
  wino_pad = -lo;
}

Act ConvTranspose1d::operator()(const Act& x, ThreadPool* pool, float in_slope) const {
  if (x.c != cin) throw Error("conv_transpose1d: channel mismatch");
  const int tout = (x.t - 1) * stride - 2 * pad + k;
  if (tout <= 0) throw Error("conv_transpose1d: input too short");
  Act y(cout, tout);
  const int qmax = (tout + stride - 1) / stride;
  const float* bias = b.empty() ? nullptr : b.data();
  if (wino.ready()) {
    wino.run_interleaved(x.d.data(), x.t, wino_pad, in_slope, bias, y.d.data(), qmax, tout,
                         stride, pool);
    return y;
  }
  std::vector<PackedWeights> local;
  if (phases.empty()) {
    for (int ph = 0; ph < stride; ++ph) local.push_back(pack_phase(ph));
  }
  const std::vector<PackedWeights>& pws = phases.empty() ? local : phases;
  // Phase ph, column q (output q*stride + ph) reads input q + base - j, j < taps.
  const int max_taps = (k + stride - 1) / stride;
  const int max_base = (stride - 1 + pad) / stride;
  const int left = max_taps;  // zero columns before the block's first input
  // Block width: its input [cin][qb + halo] and phase outputs [stride][cout][qb] ~ 256 KB.
  const int qb = std::max(32, round_up(65536 / (cin + stride * cout), 32));
  const int blocks = (qmax + qb - 1) / qb;
  const int ldx = round_up(left + qb + max_base + 2 + 32, 16);
  const int ldb = qb + 16;
  auto run_blocks = [&](int64_t bb, int64_t be) {
    thread_local std::vector<float> xbuf, obuf;
    if (xbuf.size() < size_t(cin) * ldx) xbuf.resize(size_t(cin) * ldx);
    if (obuf.size() < size_t(stride) * cout * ldb) obuf.resize(size_t(stride) * cout * ldb);
    float* xb = xbuf.data();
    float* ob = obuf.data();
    std::vector<const float*> rows(size_t(cin) * max_taps);
    for (int64_t blk = bb; blk < be; ++blk) {
      const int q0 = int(blk) * qb;
      const int cc = std::min(qb, qmax - q0);
      // xb[ci][left + i] = act(x[ci][q0 + i]), zero outside the input.
      const int lo = q0 - left, hi = std::min(x.t, q0 + cc + max_base + 2);
      for (int ci = 0; ci < cin; ++ci) {
        float* r = xb + size_t(ci) * ldx;
        const int from = std::max(0, lo);
        std::fill(r, r + (from - lo), 0.f);
        if (hi > from) act_copy(x.row(ci) + from, hi - from, in_slope, r + (from - lo));
        std::fill(r + std::max(from, hi) - lo, r + ldx, 0.f);
      }
      for (int ph = 0; ph < stride; ++ph) {
        const int kk0 = (ph + pad) % stride;
        const int base = (ph + pad - kk0) / stride;
        const int taps = kk0 < k ? (k - kk0 + stride - 1) / stride : 0;
        float* out = ob + size_t(ph) * cout * ldb;
        if (taps == 0) {
          for (int co = 0; co < cout; ++co)
            std::fill_n(out + size_t(co) * ldb, cc, bias ? bias[co] : 0.f);
          continue;
        }
        for (int ci = 0; ci < cin; ++ci) {
          for (int j = 0; j < taps; ++j)
            rows[size_t(ci) * taps + j] = xb + size_t(ci) * ldx + left + base - j;
        }
        gemm_rows(pws[size_t(ph)], rows.data(), cc, bias, out, ldb, nullptr);
      }
      for (int co = 0; co < cout; ++co) {
        merge_phases(ob + size_t(co) * ldb, cout * ldb, stride, cc,
                     y.row(co) + size_t(q0) * stride, tout - q0 * stride, nullptr);
      }
    }
  };
  const int64_t flops = int64_t(cin) * cout * k * x.t;
  if (pool && pool->size() > 1 && blocks > 1 && flops >= (1 << 20)) {
    pool->parallel_for(blocks, run_blocks);
  } else {
    run_blocks(0, blocks);
  }
  return y;
}

}  // namespace omni::tts
