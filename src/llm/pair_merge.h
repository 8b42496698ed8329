// The merge loop shared by the SentencePiece and byte-level BPE tokenizers: split a string into
// UTF-8 characters, then repeatedly merge the adjacent pair that ranks first (ties: the leftmost
// pair) until no adjacent pair is mergeable. The tokenizers differ only in how a pair ranks
// (SentencePiece: the score of the token it makes, highest first; BPE: the merge rank, lowest
// first) and in how finished symbols become tokens.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <queue>
#include <string_view>
#include <vector>

#include "llm/unicode.h"

namespace omni::llm {

// `Rank` orders pairs; `Before(a, b)` is true when a pair ranked `a` merges before one ranked `b`.
template <typename Rank, typename Before>
class PairMerge {
 public:
  struct Symbol {
    int prev, next;   // neighbours in the merged sequence, -1 at the ends
    size_t start, n;  // bytes of the text; n == 0 once merged into its left neighbour
  };

  explicit PairMerge(std::string_view text) : text_(text) {
    for (size_t off = 0; off < text_.size();) {
      const size_t n = std::min(unicode::utf8_len(static_cast<uint8_t>(text_[off])),
                                text_.size() - off);
      const int idx = static_cast<int>(symbols_.size());
      symbols_.push_back({idx - 1, off + n == text_.size() ? -1 : idx + 1, off, n});
      off += n;
    }
  }

  // `rank(left, right)` returns the rank of merging the two symbols (indices into symbols()),
  // or nullopt when they do not merge.
  template <typename RankOf>
  void run(RankOf&& rank) {
    const auto try_add = [&](int left, int right) {
      if (left == -1 || right == -1) return;
      if (const std::optional<Rank> r = rank(left, right))
        queue_.push({left, right, *r, symbols_[left].n + symbols_[right].n});
    };
    for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) try_add(i - 1, i);

    while (!queue_.empty()) {
      const Pair p = queue_.top();
      queue_.pop();
      Symbol& l = symbols_[p.left];
      Symbol& r = symbols_[p.right];
      // Symbols only grow and stay contiguous, so an unchanged total length means the queued
      // pair is still exactly these two symbols.
      if (l.n == 0 || r.n == 0 || l.n + r.n != p.size || l.next != p.right) continue;
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) symbols_[r.next].prev = p.left;
      try_add(l.prev, p.left);
      try_add(p.left, l.next);
    }
  }

  const std::vector<Symbol>& symbols() const { return symbols_; }
  std::string_view text(const Symbol& s) const { return text_.substr(s.start, s.n); }
  // The bytes of two adjacent symbols together.
  std::string_view text(const Symbol& l, const Symbol& r) const {
    return text_.substr(l.start, l.n + r.n);
  }

 private:
  struct Pair {
    int left, right;
    Rank rank;
    size_t size;  // bytes of the pair when queued, to detect stale entries
  };
  struct Order {  // priority_queue is a max-heap: "less" means "merges later"
    bool operator()(const Pair& a, const Pair& b) const {
      if (Before{}(b.rank, a.rank)) return true;
      if (Before{}(a.rank, b.rank)) return false;
      return a.left > b.left;
    }
  };

  std::string_view text_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Pair, std::vector<Pair>, Order> queue_;
};

}  // namespace omni::llm
