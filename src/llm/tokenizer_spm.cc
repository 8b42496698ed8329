// SentencePiece-style tokenizer of llama.cpp (`tokenizer.ggml.model = llama`): start from UTF-8
// characters, repeatedly merge the adjacent pair whose concatenation is the token with the
// highest score (ties: leftmost), then emit each symbol as its token, or re-split it along the
// merges that built it, or as byte tokens <0xXX> (byte fallback).
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "llm/pair_merge.h"
#include "llm/tokenizer_impl.h"

namespace omni::llm {
namespace {

using Merge = PairMerge<float, std::greater<float>>;

class SpmSession {
 public:
  SpmSession(const Vocab& vocab, std::string_view text) : vocab_(vocab), merge_(text) {}

  void run(std::vector<TokenId>& out) {
    merge_.run([&](int left, int right) -> std::optional<float> {
      const auto& s = merge_.symbols();
      const std::string_view pair = merge_.text(s[left], s[right]);
      const TokenId id = vocab_.find(pair);
      if (id == kNoToken) return std::nullopt;
      rev_merge_[std::string(pair)] = {left, right};
      return vocab_.score(id);
    });
    const auto& s = merge_.symbols();
    if (s.empty()) return;
    for (int i = 0; i != -1; i = s[i].next) resegment(s[i], out, 0);
  }

 private:
  // `depth` only guards against cycles that hostile byte sequences could build in rev_merge_.
  void resegment(const Merge::Symbol& s, std::vector<TokenId>& out, size_t depth) {
    const std::string_view text = merge_.text(s);
    const TokenId id = vocab_.find(text);
    if (id != kNoToken) {
      out.push_back(id);
      return;
    }
    const auto it = depth > 64 ? rev_merge_.end() : rev_merge_.find(std::string(text));
    if (it == rev_merge_.end()) {
      for (char c : text) out.push_back(vocab_.byte_to_token(static_cast<uint8_t>(c)));
      return;
    }
    const auto [left, right] = it->second;
    resegment(merge_.symbols()[left], out, depth + 1);
    resegment(merge_.symbols()[right], out, depth + 1);
  }

  const Vocab& vocab_;
  Merge merge_;
  std::unordered_map<std::string, std::pair<int, int>> rev_merge_;
};

}  // namespace

void tokenize_spm(const Vocab& vocab, std::string_view text, std::vector<TokenId>& out) {
  SpmSession(vocab, text).run(out);
}

}  // namespace omni::llm
