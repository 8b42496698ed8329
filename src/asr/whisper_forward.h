// The Whisper transformer: encoder (mel -> audio features) and decoder (tokens + audio features
// -> logits), computed like whisper.cpp's non-flash path (f32 attention with an explicit
// softmax, q and k each scaled by d_head^-1/4). Projections go through kernels::matmul batched
// over frames / tokens; attention is spread over heads on the thread pool.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "asr/mel.h"
#include "asr/whisper_model.h"

namespace omni {
class ThreadPool;
}

namespace omni::asr {

// Encodes mel frames [offset, offset + 2*n_ctx) of `mel` (frames past its end count as zeros,
// as in whisper.cpp) into n_ctx audio features [n_ctx][n_audio_state]. n_ctx < n_audio_ctx
// encodes a shorter window (positional embedding sliced), for streaming. Throws omni::Error on a
// mel with the wrong bin count or n_ctx out of range.
std::vector<float> whisper_encode(const WhisperModel& model, const LogMel& mel, int offset,
                                  int n_ctx, ThreadPool& pool);

// Decoder state for one window: cross-attention K/V of the audio features and the
// self-attention cache of the tokens decoded so far.
class WhisperDecoder {
 public:
  WhisperDecoder(const WhisperModel& model, ThreadPool& pool);

  // Computes the cross-attention keys/values of encoder output [n_ctx][n_state] (once per
  // window) and clears the token cache.
  void set_audio(const std::vector<float>& features, int n_ctx);
  // Forgets decoded tokens (keeps the audio).
  void reset() { n_past_ = 0; }
  int n_past() const { return n_past_; }
  // Runs `n` tokens at positions n_past .. n_past+n-1 and writes the logits of the last one
  // into `logits` (n_vocab values). Throws omni::Error when the text context would overflow or
  // a token id is out of range.
  void decode(const int32_t* tokens, int n, std::vector<float>& logits);
  // Drops cached positions >= n (n <= n_past), e.g. to re-run a prompt.
  void truncate(int n);
  // Makes this decoder continue from `other`'s state: shares its audio (cross-attention K/V,
  // no copy) and copies its n_past cached token positions. Beam search forks hypotheses this way.
  void copy_from(const WhisperDecoder& other);

 private:
  // Grows the self-attention cache to hold n_pos positions.
  void reserve_self(int n_pos);

  const WhisperModel& m_;
  ThreadPool& pool_;
  int n_audio_ = 0;
  int n_past_ = 0;
  std::vector<std::vector<float>> k_self_, v_self_;    // per layer [>= n_past][n_state]
  // Cross-attention K/V of one audio window, shared between decoders forked from one another
  // (read-only once computed). With the level's GEMM block (and d_head <= 64) they are packed
  // for it: keys in panels of 64 per head ([h][panel][d][64]), values padded to 64 columns
  // ([h][n_audio][64]), at offsets into buf (64-byte aligned); otherwise plain per layer
  // [n_audio][n_state] in k, v.
  struct CrossKv {
    std::vector<std::vector<float>> k, v;
    bool packed = false;
    int64_t panels = 0;
    std::vector<float> buf;
    std::vector<size_t> kp_off, vp_off;
  };
  std::shared_ptr<const CrossKv> cross_;
};

}  // namespace omni::asr
