#include "asr/wer.h"

#include <algorithm>
#include <sstream>

namespace omni::asr {

std::string normalize_transcript(std::string_view text) {
  std::string out;
  bool space = false;
  for (const char c0 : text) {
    char c = c0;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'';
    if (!keep) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

namespace {

std::vector<std::string> words(std::string_view text) {
  std::istringstream in(normalize_transcript(text));
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  return w;
}

struct Cell {
  size_t cost = 0, sub = 0, del = 0, ins = 0;
};

}  // namespace

WerResult word_error_rate(std::string_view reference, std::string_view hypothesis) {
  const auto r = words(reference), h = words(hypothesis);
  // prev[j] / cur[j]: best alignment of r[0..i) with h[0..j), ties broken toward fewer edits of
  // any kind in a fixed order so the split into S/D/I is deterministic.
  std::vector<Cell> prev(h.size() + 1), cur(h.size() + 1);
  for (size_t j = 1; j <= h.size(); ++j) prev[j] = {j, 0, 0, j};
  for (size_t i = 1; i <= r.size(); ++i) {
    cur[0] = {i, 0, i, 0};
    for (size_t j = 1; j <= h.size(); ++j) {
      Cell diag = prev[j - 1];
      if (r[i - 1] != h[j - 1]) {
        ++diag.cost;
        ++diag.sub;
      }
      Cell del = prev[j];
      ++del.cost;
      ++del.del;
      Cell ins = cur[j - 1];
      ++ins.cost;
      ++ins.ins;
      Cell best = diag;
      if (del.cost < best.cost) best = del;
      if (ins.cost < best.cost) best = ins;
      cur[j] = best;
    }
    std::swap(prev, cur);
  }
  const Cell& c = prev[h.size()];
  WerResult w;
  w.substitutions = c.sub;
  w.deletions = c.del;
  w.insertions = c.ins;
  w.reference_words = r.size();
  return w;
}

}  // namespace omni::asr
