// Byte-level BPE (`tokenizer.ggml.model = gpt2`): pre-tokenize into words, map each word's bytes
// to GPT-2's printable code points, then repeatedly merge the adjacent pair with the lowest merge
// rank (ties: leftmost) and emit the resulting symbols as tokens.
#include <functional>
#include <string>
#include <vector>

#include "llm/pair_merge.h"
#include "llm/pretokenize.h"
#include "llm/tokenizer_impl.h"
#include "llm/unicode.h"

namespace omni::llm {
namespace {

void tokenize_word(const Vocab& vocab, std::string_view word, std::string& key,
                   std::vector<TokenId>& out) {
  const auto& impl = vocab.impl();
  if (impl.ignore_merges) {
    const TokenId id = vocab.find(word);
    if (id != kNoToken) {
      out.push_back(id);
      return;
    }
  }
  PairMerge<int32_t, std::less<int32_t>> merge(word);
  merge.run([&](int left, int right) -> std::optional<int32_t> {
    key.assign(merge.text(merge.symbols()[left]));
    key += ' ';
    key += merge.text(merge.symbols()[right]);
    const auto it = impl.merge_rank.find(key);
    if (it == impl.merge_rank.end()) return std::nullopt;
    return it->second;
  });
  for (const auto& s : merge.symbols()) {
    if (s.n == 0) continue;
    const std::string_view text = merge.text(s);
    const TokenId id = vocab.find(text);
    if (id != kNoToken) {
      out.push_back(id);
      continue;
    }
    // No token for the symbol: fall back to single-byte tokens where they exist.
    for (char c : text) {
      const TokenId b = vocab.find(std::string_view(&c, 1));
      if (b != kNoToken) out.push_back(b);
    }
  }
}

}  // namespace

void tokenize_bpe(const Vocab& vocab, std::string_view text, std::vector<TokenId>& out) {
  std::string key;
  for (const std::string& word : pre_tokenize(vocab.pre_tokenizer(), text)) {
    const std::string encoded = unicode::bytes_to_gpt2(word);
    tokenize_word(vocab, encoded, key, out);
  }
}

}  // namespace omni::llm
