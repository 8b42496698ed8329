#include "tts/phonemize.h"

#include <unicode/unorm2.h>

#include "core/error.h"

namespace omni::tts {

std::u32string utf8_to_u32(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    int len = 0;
    char32_t cp = 0;
    if (b0 < 0x80) {
      len = 1, cp = b0;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2, cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3, cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4, cp = b0 & 0x07;
    } else {
      throw FormatError("invalid UTF-8 at byte " + std::to_string(i));
    }
    if (i + len > s.size()) throw FormatError("truncated UTF-8 at byte " + std::to_string(i));
    for (int k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) throw FormatError("invalid UTF-8 at byte " + std::to_string(i + k));
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      throw FormatError("invalid UTF-8 code point at byte " + std::to_string(i));
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

std::string u32_to_utf8(std::u32string_view text) {
  std::string out;
  for (char32_t c : text) {
    if (c < 0x80) {
      out.push_back(char(c));
    } else if (c < 0x800) {
      out.push_back(char(0xC0 | (c >> 6)));
      out.push_back(char(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(char(0xE0 | (c >> 12)));
      out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(char(0x80 | (c & 0x3F)));
    } else {
      out.push_back(char(0xF0 | (c >> 18)));
      out.push_back(char(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(char(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::u32string nfd(std::string_view utf8) {
  const std::u32string cps = utf8_to_u32(utf8);
  std::u16string u16;
  for (char32_t c : cps) {
    if (c >= 0x10000) {
      u16.push_back(char16_t(0xD800 + ((c - 0x10000) >> 10)));
      u16.push_back(char16_t(0xDC00 + ((c - 0x10000) & 0x3FF)));
    } else {
      u16.push_back(char16_t(c));
    }
  }
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* norm = unorm2_getNFDInstance(&status);
  if (U_FAILURE(status)) throw Error("ICU: NFD normaliser unavailable");
  // NFD expands a code unit into at most a few; 4x plus slack is ample, and ICU reports
  // U_BUFFER_OVERFLOW_ERROR with the needed size otherwise.
  std::u16string out(u16.size() * 4 + 16, u'\0');
  int32_t n = unorm2_normalize(norm, reinterpret_cast<const UChar*>(u16.data()),
                               int32_t(u16.size()), reinterpret_cast<UChar*>(out.data()),
                               int32_t(out.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    status = U_ZERO_ERROR;
    out.assign(size_t(n), u'\0');
    n = unorm2_normalize(norm, reinterpret_cast<const UChar*>(u16.data()), int32_t(u16.size()),
                         reinterpret_cast<UChar*>(out.data()), int32_t(out.size()), &status);
  }
  if (U_FAILURE(status)) throw Error("ICU: NFD normalisation failed");
  out.resize(size_t(n));
  std::u32string result;
  for (size_t i = 0; i < out.size(); ++i) {
    const char16_t c = out[i];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < out.size()) {
      result.push_back(0x10000 + ((char32_t(c) - 0xD800) << 10) + (out[i + 1] - 0xDC00));
      ++i;
    } else {
      result.push_back(c);
    }
  }
  return result;
}

const PhonemeMap* default_phoneme_map(const std::string& voice) {
  static const PhonemeMap kPtBr = {{U'c', U"k"}};
  return voice == "pt-br" ? &kPtBr : nullptr;
}

std::vector<Phonemes> phonemize_espeak(std::string_view text, const std::string& voice,
                                       const PhonemeMap* map,
                                       std::vector<EspeakClause>* clauses_out) {
  std::vector<EspeakClause> clauses = Espeak::instance().text_to_phonemes(text, voice);
  std::vector<Phonemes> sentences;
  bool in_sentence = false;
  for (const EspeakClause& clause : clauses) {
    if (!in_sentence) {
      sentences.emplace_back();
      in_sentence = true;
    }
    Phonemes& sentence = sentences.back();
    bool in_language_flag = false;  // "(en)" style switches around foreign words
    for (char32_t p : nfd(clause.ipa)) {
      std::u32string mapped(1, p);
      if (map) {
        if (auto it = map->find(p); it != map->end()) mapped = it->second;
      }
      for (char32_t q : mapped) {
        if (in_language_flag) {
          if (q == U')') in_language_flag = false;
        } else if (q == U'(') {
          in_language_flag = true;
        } else {
          sentence.push_back(q);
        }
      }
    }
    switch (clause.terminator) {
      case '.': sentence += U"."; break;
      case '?': sentence += U"?"; break;
      case '!': sentence += U"!"; break;
      case ',': sentence += U", "; break;
      case ':': sentence += U": "; break;
      case ';': sentence += U"; "; break;
      default: break;
    }
    if (clause.terminator == '.' || clause.terminator == '?' || clause.terminator == '!') {
      in_sentence = false;
    }
  }
  if (clauses_out) *clauses_out = std::move(clauses);
  return sentences;
}

}  // namespace omni::tts
