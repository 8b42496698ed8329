// A loaded language model (immutable, shareable) and an inference context over it (KV cache,
// scratch, token history). The forward pass is one readable function in forward.cc.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/gguf.h"
#include "llm/config.h"
#include "llm/kv_cache.h"
#include "llm/prompt.h"
#include "llm/vocab.h"
#include "llm/weights.h"

namespace omni {
class ThreadPool;
}

namespace omni::llm {

class Model {
 public:
  // Maps the GGUF file (weights stay in the page cache, no copies) and checks every tensor.
  static std::shared_ptr<const Model> load(const std::string& path);

  // The mapped file. Its tokenizer.ggml.{tokens,scores,token_type,merges} arrays are dropped
  // once the vocabulary is built (read them through vocab()); everything else is as in the file.
  const gguf::File& file() const { return file_; }
  const LlmConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const Vocab& vocab() const { return vocab_; }

 private:
  explicit Model(gguf::File file);
  gguf::File file_;
  LlmConfig config_;
  ModelWeights weights_;
  Vocab vocab_;
};

struct ContextOptions {
  uint32_t n_ctx = 0;  // 0: the model's training context, capped at 4096
  KvType kv_type = KvType::kF16;
  uint32_t n_batch = 256;  // prompt tokens per forward pass
  ThreadPool* pool = nullptr;  // nullptr: the process-wide pool
};

enum class Pooling { kMean, kLast };

class Context {
 public:
  Context(std::shared_ptr<const Model> model, ContextOptions options = {});

  const Model& model() const { return *model_; }
  uint32_t n_ctx() const { return cache_.n_ctx(); }
  uint32_t n_past() const { return static_cast<uint32_t>(history_.size()); }
  // Token ids of the evaluated positions; kEmbeddingPosition where an embedding row went in.
  std::span<const int32_t> history() const { return history_; }
  // Keys and values of the evaluated positions (for inspection and tests).
  const KvCache& kv_cache() const { return cache_; }
  // Identity of every evaluated position (see Prompt::keys), for prefix reuse.
  std::span<const uint64_t> history_keys() const { return keys_; }

  // Appends `tokens` after the history and returns the logits of the last one (n_vocab floats,
  // valid until the next call). Throws omni::Error if the context would overflow, a token id is
  // out of range, or the evaluation is cancelled (the history then keeps what was evaluated).
  std::span<const float> eval(std::span<const int32_t> tokens);

  // Like eval, for a prompt of tokens and embedding rows (each row n_embd floats, fed to the
  // first layer in place of a token embedding; positions and KV cache as for tokens). Throws
  // omni::Error also when an embedding row is not n_embd wide.
  std::span<const float> eval(const Prompt& prompt);
  // Appends `n` embedding rows (`embd` holds n x n_embd floats) and returns the last one's logits.
  std::span<const float> eval_embeddings(std::span<const float> embd, uint32_t n);

  // Like eval, but returns the logits of every token ([tokens.size()][n_vocab]).
  std::vector<float> eval_all(std::span<const int32_t> tokens);

  // Keeps the longest common prefix of the history and `prompt` (the KV cache of those positions
  // stays valid) and drops the rest; returns the number of tokens kept. At least one token of the
  // prompt is always left to evaluate, so its logits can be produced.
  uint32_t reuse_prefix(std::span<const int32_t> prompt);
  // The same for a prompt with embeddings: positions match when their keys do (an embedding row
  // matches only a row with identical bytes), so a different image is never mistaken for cached
  // history.
  uint32_t reuse_prefix(const Prompt& prompt);
  void clear() {
    history_.clear();
    keys_.clear();
  }

  // Makes room in a full context: drops positions [n_keep, n_keep + n_discard) from the history
  // and KV cache and moves the later ones down by n_discard, rotating their cached keys back by
  // n_discard positions (RoPE angles are linear in the position; values need no change), so the
  // next eval continues as if the kept tokens had been evaluated at their new positions. Throws
  // omni::Error if the range is not inside the history.
  void shift(uint32_t n_keep, uint32_t n_discard);

  // Final-norm hidden states of `tokens` evaluated from position 0, pooled (for embeddings).
  std::vector<float> embed(std::span<const int32_t> tokens, Pooling pooling);

  // Set from any thread to stop an eval between layers/batches.
  void cancel() { cancel_.store(true); }

 private:
  // Runs tokens [0, n) at positions n_past.. through all layers; leaves the final-norm hidden
  // states of rows [out_first, n) in hidden_ (row 0 = token out_first).
  void forward(const int32_t* tokens, uint32_t n, uint32_t out_first);
  // The same with the first-layer inputs already in x_ rows [0, n); appends `ids` / `keys` (n
  // each) to the history once every layer has run.
  void forward_rows(uint32_t n, uint32_t out_first, const int32_t* ids, const uint64_t* keys);
  uint32_t keep_prefix(std::span<const uint64_t> keys);
  void compute_logits(uint32_t n_rows, float* out);
  void reserve_rows(uint32_t n);  // scratch for batches of n rows

  std::shared_ptr<const Model> model_;
  ContextOptions options_;
  ThreadPool* pool_;
  KvCache cache_;
  std::vector<int32_t> history_;
  std::vector<uint64_t> keys_;  // one per history_ entry
  std::atomic<bool> cancel_{false};

  // Scratch, sized for the largest batch evaluated so far (scratch_rows_ <= n_batch).
  uint32_t scratch_rows_ = 0;
  std::vector<float> x_, xn_, q_, k_, v_, attn_, gate_, up_, hidden_, logits_, rope_cos_, rope_sin_;
  std::vector<float> kf_, vf_;  // one layer's F16 keys/values widened to f32
};

}  // namespace omni::llm
