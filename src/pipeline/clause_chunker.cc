#include "pipeline/clause_chunker.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "pipeline/text_util.h"

namespace omni::pipeline {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t code_points(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// Length in bytes of a closing quote/bracket at i (ASCII or ” ’ 」 』 ）), 0 if none.
size_t closer_at(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  const char c = s[i];
  if (c == '"' || c == '\'' || c == ')' || c == ']' || c == '*' || c == '_') return 1;
  static constexpr std::array<std::string_view, 5> kWide = {"\u201D", "\u2019", "\u300D",
                                                            "\u300F", "\uFF09"};
  for (auto w : kWide) {
    if (s.substr(i).starts_with(w)) return w.size();
  }
  return 0;
}

size_t skip_closers(std::string_view s, size_t i) {
  while (size_t n = closer_at(s, i)) i += n;
  return i;
}

bool starts_with_any(std::string_view s, size_t i, std::initializer_list<std::string_view> list,
                     size_t* len) {
  for (auto w : list) {
    if (s.substr(i).starts_with(w)) {
      *len = w.size();
      return true;
    }
  }
  return false;
}

// Is the '.' at `dot` the end of an abbreviation, an initial or a list number rather than of a
// sentence?
bool abbreviation_before(std::string_view s, size_t dot) {
  size_t b = dot;
  while (b > 0 && !is_space(s[b - 1]) && s[b - 1] != '(' && s[b - 1] != '"') --b;
  std::string w(s.substr(b, dot - b));
  if (w.empty()) return false;
  for (auto& ch : w) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  static constexpr std::array<std::string_view, 18> kAbbrev = {
      "e.g", "i.e", "dr", "mr", "mrs", "ms", "prof", "st", "vs", "jr",
      "sr",  "cf",  "fig", "approx", "mt", "gen", "lt", "col"};
  if (std::find(kAbbrev.begin(), kAbbrev.end(), w) != kAbbrev.end()) return true;
  // An initial ("J. R. Tolkien") or a dotted acronym ("U.S.").
  const std::string_view orig = s.substr(b, dot - b);
  if (orig.size() == 1 && std::isupper(static_cast<unsigned char>(orig[0]))) return true;
  if (orig.find('.') != std::string_view::npos &&
      std::all_of(orig.begin(), orig.end(),
                  [](char c) { return c == '.' || std::isalpha(static_cast<unsigned char>(c)); })) {
    return true;
  }
  // A list number at the start of the clause ("1. First").
  if (std::all_of(orig.begin(), orig.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    const std::string_view before = s.substr(0, b);
    return before.find_first_not_of(" \t\r\n") == std::string_view::npos;
  }
  return false;
}

// Korean polite/plain sentence endings; followed by whitespace they end a sentence even without
// punctuation.
bool korean_ending_before(std::string_view s, size_t i) {
  static constexpr std::array<std::string_view, 15> kEnd = {
      "니다", "니까", "어요", "아요", "해요", "세요", "에요", "예요", "지요", "네요",
      "군요", "데요", "까요", "나요", "죠"};
  const std::string_view head = s.substr(0, i);
  for (auto e : kEnd) {
    if (head.ends_with(e)) return true;
  }
  return false;
}

}  // namespace

size_t ClauseChunker::find_boundary(bool at_end) const {
  const std::string_view s = buf_;
  const size_t n = s.size();
  auto long_enough = [&](size_t end) { return code_points(trim(s.substr(0, end))) >= opt_.min_chars; };
  for (size_t i = 0; i < n;) {
    const char c = s[i];
    size_t len = 0;
    if (c == '\n') return i + 1;
    if (starts_with_any(s, i, {"\u3002", "\uFF01", "\uFF1F"}, &len)) return skip_closers(s, i + len);
    if (starts_with_any(s, i, {"\uFF0C", "\u3001"}, &len)) {
      if (long_enough(i)) return skip_closers(s, i + len);
      i += len;
      continue;
    }
    if (c == '.' || c == '!' || c == '?') {
      size_t j = i;
      while (j < n && (s[j] == '.' || s[j] == '!' || s[j] == '?')) ++j;
      const size_t run = j - i;
      j = skip_closers(s, j);
      if (j == n) return at_end ? n : 0;
      if (!is_space(s[j]) || (c == '.' && run == 1 && abbreviation_before(s, i))) {
        i = j;
        continue;
      }
      return j;
    }
    if (c == ',' || c == ';' || c == ':') {
      const size_t j = skip_closers(s, i + 1);
      if (j == n) return at_end ? n : 0;
      if (is_space(s[j]) && long_enough(i)) return j;
      i = j;
      continue;
    }
    if (is_space(c) && korean_ending_before(s, i)) return i;
    ++i;
  }
  return 0;
}

size_t ClauseChunker::first_words_cut() const {
  if (emitted_ || opt_.first_words == 0) return 0;
  size_t words = 0;
  bool in_word = false;
  for (size_t i = 0; i < buf_.size(); ++i) {
    if (!is_space(buf_[i])) {
      in_word = true;
      continue;
    }
    if (in_word && ++words == opt_.first_words) return i;
    in_word = false;
  }
  return 0;
}

void ClauseChunker::emit(size_t n, std::vector<std::string>& out) {
  std::string clause = trim(std::string_view(buf_).substr(0, n));
  buf_.erase(0, n);
  if (!clause.empty()) {
    out.push_back(std::move(clause));
    emitted_ = true;
  }
}

std::vector<std::string> ClauseChunker::push(std::string_view text, TimePoint now) {
  const bool was_blank = trim(buf_).empty();
  buf_ += text;
  if (was_blank && !trim(buf_).empty()) since_ = now;
  std::vector<std::string> out;
  while (size_t n = find_boundary(false)) emit(n, out);
  if (size_t n = first_words_cut()) emit(n, out);
  // Length cap: cut at the last space within max_chars code points (or at max_chars).
  while (code_points(buf_) > opt_.max_chars) {
    size_t cp = 0, cut = 0, last_space = 0;
    for (size_t i = 0; i < buf_.size(); ++i) {
      if ((static_cast<unsigned char>(buf_[i]) & 0xC0) == 0x80) continue;
      if (cp == opt_.max_chars) {
        cut = i;
        break;
      }
      if (is_space(buf_[i]) && !trim(std::string_view(buf_).substr(0, i)).empty()) last_space = i;
      ++cp;
    }
    emit(last_space > 0 ? last_space : cut, out);
  }
  if (!out.empty()) since_ = now;
  return out;
}

std::optional<std::string> ClauseChunker::poll(TimePoint now) {
  auto wait = opt_.max_wait;
  if (!emitted_ && opt_.first_max_wait.count() > 0 &&
      (wait.count() <= 0 || opt_.first_max_wait < wait)) {
    wait = opt_.first_max_wait;
  }
  if (wait.count() <= 0 || trim(buf_).empty() || now - since_ < wait) return std::nullopt;
  const std::string head = trim(buf_);
  // The first clause of unspaced text (Chinese, Japanese, a random model's output), which the
  // word rule cannot cut, needs about as many characters as first_words would give words.
  size_t need = opt_.min_chars;
  if (!emitted_ && opt_.first_words > 0) need = std::min(need, 2 * opt_.first_words);
  if (code_points(head) < need) return std::nullopt;
  // The last word may still be growing: cut before it. Text without spaces (Chinese, Japanese,
  // a random model's output) has no word to protect: it goes out whole (pieces are whole
  // UTF-8 characters), rather than waiting for max_chars.
  const size_t start = buf_.find_first_not_of(" \t\r\n");
  size_t sp = buf_.find_last_of(" \t\r\n");
  if (sp == std::string::npos || sp <= start) sp = buf_.size();
  std::vector<std::string> out;
  emit(sp, out);
  since_ = now;
  if (out.empty()) return std::nullopt;
  return out.front();
}

std::vector<std::string> ClauseChunker::flush() {
  std::vector<std::string> out;
  while (size_t n = find_boundary(true)) emit(n, out);
  emit(buf_.size(), out);
  return out;
}

}  // namespace omni::pipeline
