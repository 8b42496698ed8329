// Makes LLM text speakable before TTS: markdown is stripped (**bold**, `code`, headings, bullets,
// [text](url) → text), emoji dropped, URLs read as their domain ("example dot com"), e-mails as
// "name at example dot com", common abbreviations expanded, and numbers read as words:
// integers, decimals, negatives, ordinals (1st), currency ($, €, £, ₩), percentages and years
// ("in 1999" → "nineteen ninety-nine"). Korean ("ko") reads numbers as Sino-Korean numerals
// (2024 → 이천이십사).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace omni::pipeline {

// language: "en" or "ko" ("" = "en"; Hangul in the text also selects Korean numerals).
std::string normalize_for_speech(std::string_view text, const std::string& language = "en");

// Markdown to plain text (the first step of normalize_for_speech).
std::string strip_markdown(std::string_view text);

// "one hundred twenty-three", "minus five"; |n| < 10^18.
std::string number_to_words(int64_t n);
// "first", "twenty-second".
std::string ordinal_to_words(int64_t n);
// "nineteen ninety-nine", "two thousand five", "twenty twenty-four".
std::string year_to_words(int n);
// 이천이십사 (Sino-Korean); 0 → 영; negative → 마이너스 …
std::string number_to_sino_korean(int64_t n);

}  // namespace omni::pipeline
