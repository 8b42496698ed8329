// SentencePiece-style tokenizer of llama.cpp (`tokenizer.ggml.model = llama`): start from UTF-8
// characters, repeatedly merge the adjacent pair whose concatenation is the token with the
// highest score (ties: leftmost), then emit each symbol as its token, or re-split it along the
// merges that built it, or as byte tokens <0xXX> (byte fallback).
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "llm/tokenizer_impl.h"
#include "llm/unicode.h"

namespace omni::llm {
namespace {

struct Symbol {
  int prev, next;
  size_t start, n;  // bytes of the text
};

struct Bigram {
  int left, right;
  float score;
  size_t size;
};

struct BigramOrder {  // max-heap: highest score first, then the leftmost pair
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

class SpmSession {
 public:
  SpmSession(const Vocab& vocab, std::string_view text) : vocab_(vocab), text_(text) {}

  void run(std::vector<TokenId>& out) {
    for (size_t off = 0; off < text_.size();) {
      const size_t n = std::min(unicode::utf8_len(static_cast<uint8_t>(text_[off])),
                                text_.size() - off);
      const int idx = static_cast<int>(symbols_.size());
      symbols_.push_back({idx - 1, off + n == text_.size() ? -1 : idx + 1, off, n});
      off += n;
    }
    for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) try_add(i - 1, i);

    while (!queue_.empty()) {
      const Bigram b = queue_.top();
      queue_.pop();
      Symbol& l = symbols_[b.left];
      Symbol& r = symbols_[b.right];
      // Stale entry: one side was merged away or grew since the pair was queued.
      if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) symbols_[r.next].prev = b.left;
      try_add(l.prev, b.left);
      try_add(b.left, l.next);
    }

    if (symbols_.empty()) return;
    for (int i = 0; i != -1; i = symbols_[i].next) resegment(symbols_[i], out, 0);
  }

 private:
  std::string_view view(const Symbol& s) const { return text_.substr(s.start, s.n); }

  void try_add(int left, int right) {
    if (left == -1 || right == -1) return;
    const std::string_view pair =
        text_.substr(symbols_[left].start, symbols_[left].n + symbols_[right].n);
    const TokenId id = vocab_.find(pair);
    if (id == kNoToken) return;
    queue_.push({left, right, vocab_.score(id), pair.size()});
    rev_merge_[std::string(pair)] = {left, right};
  }

  // `depth` only guards against cycles that hostile byte sequences could build in rev_merge_.
  void resegment(const Symbol& s, std::vector<TokenId>& out, size_t depth) {
    const std::string_view text = view(s);
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
    resegment(symbols_[left], out, depth + 1);
    resegment(symbols_[right], out, depth + 1);
  }

  const Vocab& vocab_;
  std::string_view text_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
  std::unordered_map<std::string, std::pair<int, int>> rev_merge_;
};

}  // namespace

void tokenize_spm(const Vocab& vocab, std::string_view text, std::vector<TokenId>& out) {
  SpmSession(vocab, text).run(out);
}

}  // namespace omni::llm
