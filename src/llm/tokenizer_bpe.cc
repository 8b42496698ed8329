// Byte-level BPE (`tokenizer.ggml.model = gpt2`): pre-tokenize into words, map each word's bytes
// to GPT-2's printable code points, then repeatedly merge the adjacent pair with the lowest merge
// rank (ties: leftmost) and emit the resulting symbols as tokens.
#include <queue>
#include <string>
#include <vector>

#include "llm/pretokenize.h"
#include "llm/tokenizer_impl.h"
#include "llm/unicode.h"

namespace omni::llm {
namespace {

struct Symbol {
  int prev, next;
  size_t start, n;  // bytes of the encoded word
};

struct Bigram {
  int left, right;
  int32_t rank;
  size_t size;  // bytes of the pair when queued, to detect stale entries
};

struct BigramOrder {  // min-heap on rank, then the leftmost pair
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

class BpeWord {
 public:
  BpeWord(const Vocab& vocab, std::string_view word) : vocab_(vocab), word_(word) {}

  void run(std::vector<TokenId>& out) {
    const auto& impl = vocab_.impl();
    if (impl.ignore_merges) {
      const TokenId id = vocab_.find(word_);
      if (id != kNoToken) {
        out.push_back(id);
        return;
      }
    }
    for (size_t off = 0; off < word_.size();) {
      const size_t n = std::min(unicode::utf8_len(static_cast<uint8_t>(word_[off])),
                                word_.size() - off);
      const int idx = static_cast<int>(symbols_.size());
      symbols_.push_back({idx - 1, off + n == word_.size() ? -1 : idx + 1, off, n});
      off += n;
    }
    for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) try_add(i - 1, i);

    while (!queue_.empty()) {
      const Bigram b = queue_.top();
      queue_.pop();
      Symbol& l = symbols_[b.left];
      Symbol& r = symbols_[b.right];
      // Symbols only grow and stay contiguous, so an unchanged total length means the queued
      // pair is still exactly these two symbols.
      if (l.n == 0 || r.n == 0 || l.n + r.n != b.size || l.next != b.right) continue;
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) symbols_[r.next].prev = b.left;
      try_add(l.prev, b.left);
      try_add(b.left, l.next);
    }

    for (const Symbol& s : symbols_) {
      if (s.n == 0) continue;
      const std::string_view text = word_.substr(s.start, s.n);
      const TokenId id = vocab_.find(text);
      if (id != kNoToken) {
        out.push_back(id);
        continue;
      }
      // No token for the symbol: fall back to single-byte tokens where they exist.
      for (char c : text) {
        const TokenId b = vocab_.find(std::string_view(&c, 1));
        if (b != kNoToken) out.push_back(b);
      }
    }
  }

 private:
  void try_add(int left, int right) {
    if (left == -1 || right == -1) return;
    const Symbol& l = symbols_[left];
    const Symbol& r = symbols_[right];
    key_.assign(word_.substr(l.start, l.n));
    key_ += ' ';
    key_ += word_.substr(r.start, r.n);
    const auto& ranks = vocab_.impl().merge_rank;
    const auto it = ranks.find(key_);
    if (it == ranks.end()) return;
    queue_.push({left, right, it->second, l.n + r.n});
  }

  const Vocab& vocab_;
  std::string_view word_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
  std::string key_;
};

}  // namespace

void tokenize_bpe(const Vocab& vocab, std::string_view text, std::vector<TokenId>& out) {
  for (const std::string& word : pre_tokenize(vocab.pre_tokenizer(), text)) {
    const std::string encoded = unicode::bytes_to_gpt2(word);
    BpeWord(vocab, encoded).run(out);
  }
}

}  // namespace omni::llm
