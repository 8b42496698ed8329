// Our own implementation of Piper's VITS voice (SynthesizerTrn.infer): text encoder with
// relative-position attention, stochastic duration predictor run in reverse, length regulation,
// residual coupling flow in reverse and the HiFi-GAN decoder. Weights come from a Piper
// `voice.onnx` (its initializers, named through the graph's nodes; see vits_weights.cc); the
// graph itself is not interpreted.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "tts/onnx.h"
#include "tts/vits_ops.h"

namespace omni {
class ThreadPool;
}

namespace omni::tts {

struct MultiHeadAttention {
  Conv1d q, k, v, o;
  int n_heads = 2;
  int window = 4;
  std::vector<float> emb_rel_k, emb_rel_v;  // [2*window+1, head_dim] (heads share them)
};

struct Ffn {
  Conv1d conv1, conv2;
};

struct TextEncoder {
  int n_vocab = 0, hidden = 0, inter = 0;
  std::vector<float> emb;  // [n_vocab, hidden]
  std::vector<MultiHeadAttention> attn;
  std::vector<ChannelLayerNorm> norm1, norm2;
  std::vector<Ffn> ffn;
  Conv1d proj;  // hidden -> 2*inter
};

// Dilated depthwise-separable conv stack (DDSConv).
struct DdsConv {
  std::vector<Conv1d> sep, pointwise;
  std::vector<ChannelLayerNorm> norm1, norm2;
};

struct ConvFlow {
  Conv1d pre;
  DdsConv convs;
  Conv1d proj;
  int filter = 0;
  int num_bins = 10;
  float tail_bound = 5.f;
};

struct DurationPredictor {
  Conv1d pre, proj;
  Conv1d cond;  // only with speakers (cout 0 otherwise)
  DdsConv convs;
  // ElementwiseAffine (flows[0]): x = (x - m) * exp(exp_arg) in reverse; exp_arg = -logs.
  std::vector<float> affine_m, affine_exp_arg;  // [2]
  std::vector<ConvFlow> flows;  // in reverse order of application: flows[0] runs first
};

struct WaveNet {
  int hidden = 0;
  std::vector<Conv1d> in_layers, res_skip;
  Conv1d cond;  // gin -> 2*hidden*n_layers (speakers only)
};

struct CouplingLayer {
  Conv1d pre, post;
  WaveNet wn;
};

struct ResBlock {
  // type 2: convs only; type 1: convs (dilated) then convs2 (dilation 1) pairwise.
  std::vector<Conv1d> convs, convs2;
};

struct Decoder {
  Conv1d conv_pre, conv_post, cond;
  std::vector<ConvTranspose1d> ups;
  std::vector<ResBlock> resblocks;  // ups.size() * kernels_per_up
  int kernels_per_up = 0;
  float lrelu_slope = 0.1f;
  float final_lrelu_slope = 0.01f;  // torch's default slope for the last leaky_relu
};

struct VitsOptions {
  float noise_scale = 0.f;
  float length_scale = 1.f;
  float noise_w = 0.f;
  int speaker = 0;
  uint64_t seed = 0;  // noise seed (used when a noise scale is > 0)
  ThreadPool* pool = nullptr;  // null: single-threaded
};

// Intermediates of one run, for tests and inspection.
struct VitsTrace {
  Act m_p, logs_p;                // [inter, T]
  std::vector<float> logw;        // [T]
  std::vector<int> durations;     // [T], after ceil
  Act dec_in;                     // [inter, y_len]
};

// Hyperparameters of a Piper VITS voice, for random-weight models (benchmarks, tests). The
// defaults are Piper's "medium" quality.
struct VitsShape {
  int n_vocab = 256, hidden = 192, filter = 768, n_heads = 2, n_layers = 6, window = 4;
  int inter = 192;
  int dp_filter = 192, dp_flows = 3;  // ConvFlows used in reverse (Piper trains 4, drops one)
  int flows = 4, wn_layers = 4, wn_kernel = 5;
  int up_initial = 256;
  std::vector<int> up_rates = {8, 8, 4}, up_kernels = {16, 16, 8};
  std::vector<int> rb_kernels = {3, 5, 7};
  std::vector<std::vector<int>> rb_dilations = {{1, 2}, {2, 6}, {3, 12}};
  int num_speakers = 1, gin = 0;
};

class VitsModel {
 public:
  // A model of the given shape with random weights (torch-like default init, duration shift
  // -0.4 so lengths are speech-like). Compute cost does not depend on the values.
  static VitsModel random(const VitsShape& shape, uint64_t seed);

  // Maps a Piper voice graph onto our network. Throws omni::FormatError naming the missing or
  // malformed weight when the graph is not a Piper VITS voice we understand.
  static VitsModel from_onnx(const onnx::Model& model, const std::string& source);
  static VitsModel load(const std::string& onnx_path);

  // Phoneme ids -> float samples in (-1, 1), 256 (hop) per decoder frame.
  std::vector<float> synthesize(std::span<const int64_t> ids, const VitsOptions& options,
                                VitsTrace* trace = nullptr) const;

  // Same audio, delivered in chunks of `chunk_frames` decoder frames (x hop samples) as soon
  // as each is decoded, the first chunk `first_chunk_frames` long (0: chunk_frames; small
  // means early first audio): encoder, durations and flow run for the whole sentence (the
  // flow first over just the frames the first chunk needs), then the decoder runs chunk by
  // chunk with decoder_context_frames() of context on each side, so the concatenated chunks
  // equal synthesize()'s output exactly. on_chunk gets `last` true for the sentence's final
  // chunk and returns false to stop. Returns false if stopped.
  using OnChunk = std::function<bool(std::span<const float> samples, bool last)>;
  bool synthesize_streaming(std::span<const int64_t> ids, const VitsOptions& options,
                            int chunk_frames, const OnChunk& on_chunk,
                            int first_chunk_frames = 0) const;
  // Decoder receptive field, in decoder frames on each side (rounded up, plus a margin).
  int decoder_context_frames() const;
  // Decoded parts start at a multiple of this many frames (the fast convolutions' tile grid).
  int decoder_alignment_frames() const;
  // The flow's receptive field, in frames on each side (plus a margin).
  int flow_context_frames() const;

  int num_speakers() const { return num_speakers_; }
  int hop_length() const;
  int hidden_channels() const { return enc_.hidden; }

 private:
  TextEncoder enc_;
  DurationPredictor dp_;
  std::vector<CouplingLayer> flow_;  // in forward order (flows 0, 2, 4, ... of the torch model)
  Decoder dec_;
  int num_speakers_ = 1;
  int gin_ = 0;
  std::vector<float> emb_g_;  // [num_speakers, gin]

  friend class VitsLoader;
  void prepare();  // packs every convolution's weights for the GEMM kernel
  Act encode(std::span<const int64_t> ids, Act* hidden, ThreadPool* pool) const;
  std::vector<float> predict_logw(const Act& hidden, const Act* g, float noise_w,
                                  std::mt19937_64& rng, ThreadPool* pool) const;
  Act flow_reverse(Act z, const Act* g, ThreadPool* pool) const;
  // Everything before the flow: z_p ([inter, y_len]) and the speaker vector.
  Act prior(std::span<const int64_t> ids, const VitsOptions& options, Act* g,
            VitsTrace* trace) const;
  std::vector<float> decode(const Act& z, const Act* g, ThreadPool* pool) const;
};

}  // namespace omni::tts
