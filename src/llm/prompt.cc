#include "llm/prompt.h"

#include <cstring>
#include <string>

#include "core/error.h"

namespace omni::llm {

uint64_t embedding_key(std::span<const float> row) {
  // FNV-1a over the bytes; the top bit marks "embedding" so keys never collide with token ids.
  uint64_t h = 0xcbf29ce484222325ull;
  const auto* p = reinterpret_cast<const unsigned char*>(row.data());
  for (size_t i = 0; i < row.size_bytes(); ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h | (uint64_t{1} << 63);
}

void Prompt::add_tokens(std::span<const int32_t> tokens) {
  if (tokens.empty()) return;
  if (chunks_.empty() || chunks_.back().is_embd()) chunks_.emplace_back();
  auto& t = chunks_.back().tokens;
  t.insert(t.end(), tokens.begin(), tokens.end());
  n_positions_ += tokens.size();
}

void Prompt::add_embeddings(std::span<const float> embd, uint32_t n_rows) {
  if (n_rows == 0 || embd.empty() || embd.size() % n_rows != 0) {
    throw Error("prompt: " + std::to_string(embd.size()) + " embedding values do not make " +
                std::to_string(n_rows) + " rows");
  }
  PromptChunk c;
  c.embd.assign(embd.begin(), embd.end());
  c.n_rows = n_rows;
  chunks_.push_back(std::move(c));
  n_positions_ += n_rows;
}

void Prompt::append(const Prompt& other, size_t from) {
  size_t pos = 0;
  for (const auto& c : other.chunks_) {
    const size_t n = c.n_positions();
    if (pos + n > from) {
      const size_t skip = from > pos ? from - pos : 0;
      if (c.is_embd()) {
        const size_t width = c.embd.size() / c.n_rows;
        add_embeddings(std::span<const float>(c.embd).subspan(skip * width),
                       static_cast<uint32_t>(n - skip));
      } else {
        add_tokens(std::span<const int32_t>(c.tokens).subspan(skip));
      }
    }
    pos += n;
  }
}

bool Prompt::has_embeddings() const {
  for (const auto& c : chunks_) {
    if (c.is_embd()) return true;
  }
  return false;
}

std::vector<int32_t> Prompt::token_view() const {
  std::vector<int32_t> out;
  out.reserve(n_positions_);
  for (const auto& c : chunks_) {
    if (c.is_embd()) {
      out.insert(out.end(), c.n_rows, kEmbeddingPosition);
    } else {
      out.insert(out.end(), c.tokens.begin(), c.tokens.end());
    }
  }
  return out;
}

std::vector<uint64_t> Prompt::keys() const {
  std::vector<uint64_t> out;
  out.reserve(n_positions_);
  for (const auto& c : chunks_) {
    if (c.is_embd()) {
      const size_t width = c.embd.size() / c.n_rows;
      for (uint32_t r = 0; r < c.n_rows; ++r) {
        out.push_back(embedding_key(std::span<const float>(c.embd).subspan(r * width, width)));
      }
    } else {
      for (const int32_t t : c.tokens) out.push_back(token_key(t));
    }
  }
  return out;
}

}  // namespace omni::llm
