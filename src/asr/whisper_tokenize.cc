// Prompt tokenization as whisper.cpp does it (the ggml files carry no BPE merges): split into
// GPT-2 style words, then match each word greedily by its longest vocabulary prefix.
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "asr/whisper.h"

namespace omni::asr {
namespace {

enum class Kind { kSpace, kLetter, kDigit, kOther };

// Bytes >= 0x80 count as letters: UTF-8 text in other scripts then stays in one word, which is
// what the regex's [[:alpha:]] does for letters (symbols outside ASCII are rare in prompts).
Kind kind(unsigned char c) {
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
    return Kind::kSpace;
  }
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return Kind::kLetter;
  if (c >= '0' && c <= '9') return Kind::kDigit;
  return Kind::kOther;
}

std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> words;
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // Contractions 's 't 're 've 'm 'll 'd.
    if (s[i] == '\'') {
      bool hit = false;
      for (std::string_view c : {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}) {
        if (s.substr(i, c.size()) == c) {
          words.push_back(s.substr(i, c.size()));
          i += c.size();
          hit = true;
          break;
        }
      }
      if (hit) continue;
    }
    const Kind k = kind(static_cast<unsigned char>(s[i]));
    if (k != Kind::kSpace || (s[i] == ' ' && i + 1 < n &&
                              kind(static_cast<unsigned char>(s[i + 1])) != Kind::kSpace)) {
      // " ?letters+", " ?digits+" or " ?others+".
      size_t j = k == Kind::kSpace ? i + 1 : i;
      const Kind run = kind(static_cast<unsigned char>(s[j]));
      while (j < n && kind(static_cast<unsigned char>(s[j])) == run) ++j;
      words.push_back(s.substr(i, j - i));
      i = j;
      continue;
    }
    // Whitespace: all of it at the end, else all but the last character (which leads the next
    // word), and a lone non-space whitespace character on its own.
    size_t e = i;
    while (e < n && kind(static_cast<unsigned char>(s[e])) == Kind::kSpace) ++e;
    const size_t end = e == n || e - i == 1 ? e : e - 1;
    words.push_back(s.substr(i, end - i));
    i = end;
  }
  return words;
}

}  // namespace

std::vector<int32_t> whisper_tokenize(const WhisperModel& model, const std::string& text) {
  std::unordered_map<std::string_view, int32_t> ids;
  for (int32_t id = 0; id < model.tokens().eot; ++id) ids.emplace(model.token_text(id), id);
  std::vector<int32_t> out;
  for (std::string_view w : split_words(text)) {
    size_t i = 0;
    while (i < w.size()) {
      size_t j = w.size();
      for (; j > i; --j) {
        if (const auto it = ids.find(w.substr(i, j - i)); it != ids.end()) {
          out.push_back(it->second);
          break;
        }
      }
      i = j > i ? j : i + 1;  // a byte no token starts with is dropped
    }
  }
  return out;
}

}  // namespace omni::asr
