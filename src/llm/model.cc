#include "llm/model.h"

#include <algorithm>

#include "core/error.h"
#include "core/thread_pool.h"
#include "llm/linear.h"

namespace omni::llm {

Model::Model(gguf::File file)
    : file_(std::move(file)), config_(read_config(file_)), weights_(bind_weights(file_, config_)) {}

std::shared_ptr<const Model> Model::load(const std::string& path) {
  return std::shared_ptr<const Model>(new Model(gguf::File::open(path)));
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
  const LlmConfig& c = model_->config();
  if (options_.n_batch == 0) options_.n_batch = 1;
  const size_t B = options_.n_batch;
  x_.resize(B * c.n_embd);
  xn_.resize(B * std::max(c.n_embd, c.q_dim()));
  q_.resize(B * c.q_dim());
  k_.resize(B * c.kv_dim());
  v_.resize(B * c.kv_dim());
  attn_.resize(B * c.q_dim());
  gate_.resize(B * c.n_ff);
  up_.resize(B * c.n_ff);
  hidden_.resize(B * c.n_embd);
  logits_.resize(c.n_vocab);
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

uint32_t Context::reuse_prefix(std::span<const int32_t> prompt) {
  size_t keep = 0;
  while (keep < history_.size() && keep < prompt.size() && history_[keep] == prompt[keep]) ++keep;
  if (keep == prompt.size() && keep > 0) --keep;  // re-evaluate the last token for its logits
  history_.resize(keep);
  return static_cast<uint32_t>(keep);
}

std::vector<float> Context::embed(std::span<const int32_t> tokens, Pooling pooling) {
  if (tokens.empty()) throw Error("embed: no tokens");
  check_tokens(tokens, model_->config().n_vocab);
  if (tokens.size() > n_ctx()) throw Error("embed: input longer than the context size");
  history_.clear();
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
  history_.clear();
  return out;
}

}  // namespace omni::llm
