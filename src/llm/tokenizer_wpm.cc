// WordPiece (`tokenizer.ggml.model = bert`): normalise (NFD first code point, lowercase), split
// on whitespace and around punctuation / ASCII symbols / CJK ideographs, then cover each word,
// prefixed with U+2581 (the converter's word-start marker), by greedy longest-prefix tokens. A
// word that cannot be covered entirely becomes UNK.
#include <string>
#include <vector>

#include "llm/tokenizer_impl.h"
#include "llm/unicode.h"

namespace omni::llm {
namespace {

bool is_cjk_ideograph(uint32_t c) {
  // The ranges of HF's BertPreTokenizer, including its 0x2B920 start for one block.
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

}  // namespace

std::vector<std::string> wpm_preprocess(std::string_view text, bool lowercase,
                                        bool strip_accents) {
  std::vector<std::string> words(1);
  for (uint32_t cpt : unicode::decode_utf8(text)) {
    if (strip_accents) cpt = unicode::nfd_first(cpt);
    const uint16_t f = unicode::flags(cpt);
    if (f & unicode::kWhiteSpace) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cpt == 0 || cpt == 0xFFFD || (f & unicode::kControl)) continue;
    const std::string s = unicode::to_utf8(lowercase ? unicode::to_lower(cpt) : cpt);
    if ((f & unicode::kPunctuation) || (cpt < 0x7F && (f & unicode::kSymbol)) ||
        is_cjk_ideograph(cpt)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = s;
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

void tokenize_wpm(const Vocab& vocab, std::string_view text, std::vector<TokenId>& out) {
  const auto& impl = vocab.impl();
  for (const std::string& w : wpm_preprocess(text, impl.lowercase, impl.strip_accents)) {
    if (w.empty()) continue;
    const std::string word = "\xE2\x96\x81" + w;
    const size_t n = word.size();
    const size_t mark = out.size();
    for (size_t i = 0; i < n; ++i) {
      bool found = false;
      for (size_t j = std::min(n, i + impl.max_token_len + 1); j > i; --j) {
        const TokenId id = vocab.find(std::string_view(word).substr(i, j - i));
        if (id != kNoToken) {
          out.push_back(id);
          found = true;
          i = j - 1;
          break;
        }
      }
      if (!found) {
        out.resize(mark);
        break;
      }
    }
    if (out.size() == mark) out.push_back(vocab.unk());
  }
}

}  // namespace omni::llm
