#include "llm/model.h"

#include <algorithm>

#include "core/error.h"
#include "core/mem_stats.h"
#include "core/thread_pool.h"
#include "llm/linear.h"

namespace omni::llm {

Model::Model(gguf::File file)
    : file_(std::move(file)),
      config_(read_config(file_)),
      weights_(bind_weights(file_, config_)),
      vocab_(Vocab::from_gguf(file_)) {
  // The vocabulary holds its own compact copy; the metadata Values of these arrays are the
  // largest allocation of a load (~19 MiB for a 151k-token BPE vocabulary). Freed pages in the
  // middle of the heap go back to the system too.
  for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                          "tokenizer.ggml.merges"}) {
    file_.erase(key);
  }
  release_free_heap();
  if (vocab_.n_tokens() > config_.n_vocab) {
    throw FormatError(file_.path() + ": the tokenizer has " + std::to_string(vocab_.n_tokens()) +
                      " tokens but token_embd.weight only " + std::to_string(config_.n_vocab) + " rows");
  }
}

std::shared_ptr<const Model> Model::load(const std::string& path) {
  gguf::File file = gguf::File::open(path);
  // Every weight is read by the first token: let the disk stream the file while the vocabulary
  // is built, instead of faulting it in a readahead window at a time.
  file.advise_will_need();
  return std::shared_ptr<const Model>(new Model(std::move(file)));
}

namespace {
uint32_t pick_ctx(const LlmConfig& c, uint32_t requested) {
  if (requested) return requested;
  return std::min<uint32_t>(c.n_ctx_train ? c.n_ctx_train : 4096, 4096);
}
}  // namespace

Context::Context(std::shared_ptr<const Model> model, ContextOptions options)
    : model_(std::move(model)),
      options_(options),
      pool_(options.pool ? options.pool : &ThreadPool::global()),
      cache_(model_->config().n_layer, pick_ctx(model_->config(), options.n_ctx),
             model_->config().kv_dim(), options.kv_type) {
  if (options_.n_batch == 0) options_.n_batch = 1;
  logits_.resize(model_->config().n_vocab);
}

void Context::reserve_rows(uint32_t n) {
  // Scratch grows to the largest batch actually evaluated (at most n_batch), so a chat or a
  // generation with short prompts never holds n_batch rows of FFN activations.
  n = std::min(n, options_.n_batch);
  if (n <= scratch_rows_) return;
  const LlmConfig& c = model_->config();
  const size_t B = n;
  x_.resize(B * c.n_embd);
  xn_.resize(B * std::max(c.n_embd, c.q_dim()));
  q_.resize(B * c.q_dim());
  k_.resize(B * c.kv_dim());
  v_.resize(B * c.kv_dim());
  attn_.resize(B * c.q_dim());
  gate_.resize(B * c.n_ff);
  up_.resize(B * c.n_ff);
  hidden_.resize(B * c.n_embd);
  rope_cos_.resize(B * c.rope_dims / 2);
  rope_sin_.resize(B * c.rope_dims / 2);
  scratch_rows_ = n;
}

namespace {
void check_tokens(std::span<const int32_t> tokens, uint32_t n_vocab) {
  for (const int32_t t : tokens) {
    if (t < 0 || static_cast<uint32_t>(t) >= n_vocab) {
      throw Error("token id " + std::to_string(t) + " is out of range (vocabulary of " +
                  std::to_string(n_vocab) + ")");
    }
  }
}
}  // namespace

std::span<const float> Context::eval(std::span<const int32_t> tokens) {
  if (tokens.empty()) throw Error("eval: no tokens");
  check_tokens(tokens, model_->config().n_vocab);
  if (n_past() + tokens.size() > n_ctx()) {
    throw Error("context full: " + std::to_string(n_past()) + " + " +
                std::to_string(tokens.size()) + " tokens exceed the context size " +
                std::to_string(n_ctx()));
  }
  cancel_.store(false);
  for (size_t i = 0; i < tokens.size(); i += options_.n_batch) {
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>(options_.n_batch, tokens.size() - i));
    const bool last = i + n == tokens.size();
    forward(tokens.data() + i, n, last ? n - 1 : n);
  }
  compute_logits(1, logits_.data());
  return logits_;
}

std::vector<float> Context::eval_all(std::span<const int32_t> tokens) {
  if (tokens.empty()) throw Error("eval: no tokens");
  check_tokens(tokens, model_->config().n_vocab);
  if (n_past() + tokens.size() > n_ctx()) throw Error("context full");
  cancel_.store(false);
  const uint32_t V = model_->config().n_vocab;
  std::vector<float> out(tokens.size() * size_t{V});
  for (size_t i = 0; i < tokens.size(); i += options_.n_batch) {
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>(options_.n_batch, tokens.size() - i));
    forward(tokens.data() + i, n, 0);
    compute_logits(n, out.data() + i * V);
  }
  return out;
}

uint32_t Context::keep_prefix(std::span<const uint64_t> keys) {
  size_t keep = 0;
  while (keep < keys_.size() && keep < keys.size() && keys_[keep] == keys[keep]) ++keep;
  if (keep == keys.size() && keep > 0) --keep;  // re-evaluate the last position for its logits
  history_.resize(keep);
  keys_.resize(keep);
  return static_cast<uint32_t>(keep);
}

uint32_t Context::reuse_prefix(std::span<const int32_t> prompt) {
  std::vector<uint64_t> keys(prompt.size());
  for (size_t i = 0; i < prompt.size(); ++i) keys[i] = token_key(prompt[i]);
  return keep_prefix(keys);
}

uint32_t Context::reuse_prefix(const Prompt& prompt) { return keep_prefix(prompt.keys()); }

std::span<const float> Context::eval(const Prompt& prompt) {
  if (prompt.empty()) throw Error("eval: no tokens");
  const LlmConfig& c = model_->config();
  const uint32_t E = c.n_embd;
  for (const auto& chunk : prompt.chunks()) {
    if (!chunk.is_embd()) {
      check_tokens(chunk.tokens, c.n_vocab);
    } else if (chunk.embd.size() != size_t{chunk.n_rows} * E) {
      throw Error("eval: an embedding chunk of " + std::to_string(chunk.n_rows) + " rows holds " +
                  std::to_string(chunk.embd.size()) + " values; this model needs rows of n_embd = " +
                  std::to_string(E));
    }
  }
  if (n_past() + prompt.size() > n_ctx()) {
    throw Error("context full: " + std::to_string(n_past()) + " + " + std::to_string(prompt.size()) +
                " positions exceed the context size " + std::to_string(n_ctx()));
  }
  cancel_.store(false);
  reserve_rows(static_cast<uint32_t>(std::min<size_t>(options_.n_batch, prompt.size())));
  // Batches of up to n_batch positions, tokens and embedding rows mixed as they come.
  const ModelWeights& w = model_->weights();
  std::vector<int32_t> ids;
  std::vector<uint64_t> keys;
  size_t done = 0;
  auto flush = [&] {
    const auto n = static_cast<uint32_t>(ids.size());
    forward_rows(n, done == prompt.size() ? n - 1 : n, ids.data(), keys.data());
    ids.clear();
    keys.clear();
  };
  for (const auto& chunk : prompt.chunks()) {
    for (uint32_t i = 0; i < chunk.n_positions(); ++i) {
      float* x = &x_[ids.size() * E];
      if (chunk.is_embd()) {
        const std::span<const float> row(&chunk.embd[size_t{i} * E], E);
        std::copy(row.begin(), row.end(), x);
        ids.push_back(kEmbeddingPosition);
        keys.push_back(embedding_key(row));
      } else {
        matrix_row(*w.tok_embd, static_cast<uint64_t>(chunk.tokens[i]), x);
        ids.push_back(chunk.tokens[i]);
        keys.push_back(token_key(chunk.tokens[i]));
      }
      ++done;
      if (ids.size() == options_.n_batch || done == prompt.size()) flush();
    }
  }
  compute_logits(1, logits_.data());
  return logits_;
}

std::span<const float> Context::eval_embeddings(std::span<const float> embd, uint32_t n) {
  Prompt p;
  p.add_embeddings(embd, n);
  return eval(p);
}

std::vector<float> Context::embed(std::span<const int32_t> tokens, Pooling pooling) {
  if (tokens.empty()) throw Error("embed: no tokens");
  check_tokens(tokens, model_->config().n_vocab);
  if (tokens.size() > n_ctx()) throw Error("embed: input longer than the context size");
  clear();
  cancel_.store(false);
  const uint32_t E = model_->config().n_embd;
  std::vector<double> sum(E, 0.0);
  std::vector<float> out(E, 0.0f);
  for (size_t i = 0; i < tokens.size(); i += options_.n_batch) {
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>(options_.n_batch, tokens.size() - i));
    forward(tokens.data() + i, n, 0);
    for (uint32_t t = 0; t < n; ++t) {
      for (uint32_t j = 0; j < E; ++j) sum[j] += hidden_[size_t{t} * E + j];
    }
    if (i + n == tokens.size()) std::copy_n(&hidden_[size_t{n - 1} * E], E, out.begin());
  }
  if (pooling == Pooling::kMean) {
    for (uint32_t j = 0; j < E; ++j) out[j] = static_cast<float>(sum[j] / static_cast<double>(tokens.size()));
  }
  clear();
  return out;
}

}  // namespace omni::llm
