// The layers Piper's VITS is made of, on channel-major activations [channels, time] (batch 1).
// Straight loops whose inner dimension is time, so the compiler vectorises them; convolutions
// split their output channels over the thread pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tts/conv_gemm.h"
#include "tts/winograd.h"

namespace omni {
class ThreadPool;
}

namespace omni::tts {

// A [channels, time] activation, row-major (one row per channel).
struct Act {
  int c = 0;
  int t = 0;
  std::vector<float> d;
  Act() = default;
  Act(int channels, int time) : c(channels), t(time), d(size_t(channels) * size_t(time), 0.f) {}
  float* row(int ch) { return d.data() + size_t(ch) * size_t(t); }
  const float* row(int ch) const { return d.data() + size_t(ch) * size_t(t); }
};

// torch.nn.Conv1d (weights [cout, cin/groups, k], zero padding `pad` on both sides).
struct Conv1d {
  int cin = 0, cout = 0, k = 1, stride = 1, dilation = 1, pad = 0, groups = 1;
  std::vector<float> w;
  std::vector<float> b;  // empty: no bias
  PackedWeights packed;  // w in GEMM panel layout (prepare()); packed per call if empty
  WinogradConv wino;     // fast-algorithm form of w (prepare(), k 3/5/7), used when ready
  // Packs the weights; `fast` also prepares the Winograd form where the layer allows it, with
  // output tiles of at most max_tile samples if that is > 0 (smaller tiles mean fewer
  // transformed weight matrices to stream per call: the better trade on short inputs).
  void prepare(bool fast = WinogradConv::enabled_by_default(), int max_tile = 0);
  // in_slope != 1: applies leaky_relu(in_slope) to the input first (fused into the padding copy).
  Act operator()(const Act& x, ThreadPool* pool, float in_slope = 1.f) const;
  // dst += conv(x) (a residual connection), written straight into dst (which may be x).
  void accumulate(const Act& x, Act& dst, ThreadPool* pool, float in_slope = 1.f) const;
  // x + conv(x) as a new activation (no copy of x first where the fast path allows).
  Act residual(const Act& x, ThreadPool* pool, float in_slope = 1.f) const;

 private:
  // Output length for an input of x_t steps (throws if the input is too short).
  int out_len(const Act& x) const;
  // Runs the GEMM path (groups 1, stride 1) into y (or adds to it).
  void gemm(const Act& x, float in_slope, float* y, bool add, ThreadPool* pool) const;
};

// torch.nn.ConvTranspose1d (weights [cin, cout, k]).
struct ConvTranspose1d {
  int cin = 0, cout = 0, k = 1, stride = 1, pad = 0;
  std::vector<float> w;
  std::vector<float> b;
  // Per output phase (o % stride), the taps of w that phase uses, packed for the GEMM kernel
  // (prepare()); packed per call if empty.
  std::vector<PackedWeights> phases;
  // All phases as one stride-1 convolution with stride * cout outputs over the union of the
  // phases' input offsets (zero taps where a phase has none), in Winograd form (prepare(),
  // where that union has 3 offsets, as in HiFi-GAN's k = 2 * stride upsamplers).
  WinogradConv wino;
  int wino_pad = 0;
  void prepare(bool fast = WinogradConv::enabled_by_default());
  Act operator()(const Act& x, ThreadPool* pool, float in_slope = 1.f) const;
  PackedWeights pack_phase(int ph) const;
};

// VITS' LayerNorm over the channel axis at every time step.
struct ChannelLayerNorm {
  std::vector<float> gamma, beta;
  float eps = 1e-5f;
  void operator()(Act& x) const;
};

void leaky_relu(Act& x, float slope);
void gelu_erf(Act& x);
void relu(Act& x);
void add_into(Act& dst, const Act& src);  // dst += src (same shape)

}  // namespace omni::tts
