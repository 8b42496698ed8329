// A model input that mixes token ids and embedding rows (e.g. an image's projected embeddings
// spliced between text tokens). Each token and each embedding row takes one position.
//
//   Prompt p;
//   p.add_tokens(vocab.tokenize("USER: ", true, true));
//   p.add_embeddings(image_embd, n_image_tokens);   // n rows of n_embd floats
//   p.add_tokens(vocab.tokenize("\nWhat is this? ASSISTANT:", false, true));
//   ctx.eval(p);  or  generate(ctx, p, opts);
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace omni::llm {

// What Context::history() holds at a position filled from an embedding row.
inline constexpr int32_t kEmbeddingPosition = -1;

struct PromptChunk {
  std::vector<int32_t> tokens;  // a run of token ids, or (when empty)
  std::vector<float> embd;      // n_rows embedding rows of n_embd floats, row-major
  uint32_t n_rows = 0;

  bool is_embd() const { return tokens.empty(); }
  uint32_t n_positions() const { return is_embd() ? n_rows : static_cast<uint32_t>(tokens.size()); }
};

class Prompt {
 public:
  Prompt() = default;
  // A prompt of tokens only.
  explicit Prompt(std::span<const int32_t> tokens) { add_tokens(tokens); }

  // Appends token ids (merged into a trailing token chunk). Empty spans are ignored.
  void add_tokens(std::span<const int32_t> tokens);
  // Appends `n_rows` embedding rows; `embd.size()` must be a positive multiple of n_rows (the
  // row width is checked against the model's n_embd when evaluated). Throws omni::Error.
  void add_embeddings(std::span<const float> embd, uint32_t n_rows);
  // Appends the positions [from, size) of `other` (a chunk is split where needed).
  void append(const Prompt& other, size_t from = 0);

  const std::vector<PromptChunk>& chunks() const { return chunks_; }
  size_t size() const { return n_positions_; }  // positions
  bool empty() const { return n_positions_ == 0; }
  bool has_embeddings() const;

  // Ids per position, kEmbeddingPosition at embedding rows (the shape of Context::history()).
  std::vector<int32_t> token_view() const;
  // One identity key per position: the token id for a token, a 64-bit hash of the row's bytes
  // (with the top bit set, so it never equals a token id) for an embedding row. Equal keys up to
  // a position mean equal inputs up to it, which is what KV-cache reuse needs.
  std::vector<uint64_t> keys() const;

 private:
  std::vector<PromptChunk> chunks_;
  size_t n_positions_ = 0;
};

// The key of one token / of one embedding row (see Prompt::keys).
inline uint64_t token_key(int32_t id) { return static_cast<uint32_t>(id); }
uint64_t embedding_key(std::span<const float> row);

}  // namespace omni::llm
