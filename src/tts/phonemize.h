// Text -> IPA phonemes per sentence, the way Piper's phonemizer (piper-phonemize
// phonemize_eSpeak) does it: espeak-ng clause by clause, NFD, one code point per phoneme,
// language-switch flags dropped, clause punctuation appended, sentences split at . ? !
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tts/espeak.h"

namespace omni::tts {

// Optional phoneme -> replacement phonemes table (Piper's "phoneme_map").
using PhonemeMap = std::map<char32_t, std::u32string>;

// One sentence of phonemes (code points).
using Phonemes = std::u32string;

// Phonemises `text` with the espeak voice. `map` (if not null) replaces phonemes. `clauses`
// (if not null) receives espeak's raw clauses, for inspection and tests.
std::vector<Phonemes> phonemize_espeak(std::string_view text, const std::string& voice,
                                       const PhonemeMap* map = nullptr,
                                       std::vector<EspeakClause>* clauses = nullptr);

// The phoneme map Piper applies by default for a voice when its config has none (pt-br only).
const PhonemeMap* default_phoneme_map(const std::string& voice);

// Unicode helpers. Invalid UTF-8 throws omni::FormatError naming the byte offset.
std::u32string utf8_to_u32(std::string_view utf8);
std::string u32_to_utf8(std::u32string_view text);
// Canonical decomposition (NFD), as piper-phonemize applies to espeak's output.
std::u32string nfd(std::string_view utf8);

}  // namespace omni::tts
