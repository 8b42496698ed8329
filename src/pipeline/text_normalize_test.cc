#include "pipeline/text_normalize.h"

#include <gtest/gtest.h>

namespace omni::pipeline {
namespace {

TEST(TextNormalize, CardinalNumbers) {
  EXPECT_EQ(number_to_words(0), "zero");
  EXPECT_EQ(number_to_words(13), "thirteen");
  EXPECT_EQ(number_to_words(42), "forty-two");
  EXPECT_EQ(number_to_words(100), "one hundred");
  EXPECT_EQ(number_to_words(1005), "one thousand five");
  EXPECT_EQ(number_to_words(1234567), "one million two hundred thirty-four thousand five hundred sixty-seven");
  EXPECT_EQ(number_to_words(-7), "minus seven");
}

TEST(TextNormalize, OrdinalsAndYears) {
  EXPECT_EQ(ordinal_to_words(1), "first");
  EXPECT_EQ(ordinal_to_words(22), "twenty-second");
  EXPECT_EQ(ordinal_to_words(40), "fortieth");
  EXPECT_EQ(ordinal_to_words(109), "one hundred ninth");
  EXPECT_EQ(ordinal_to_words(12), "twelfth");
  EXPECT_EQ(year_to_words(1999), "nineteen ninety-nine");
  EXPECT_EQ(year_to_words(2005), "two thousand five");
  EXPECT_EQ(year_to_words(2024), "twenty twenty-four");
  EXPECT_EQ(year_to_words(1900), "nineteen hundred");
  EXPECT_EQ(year_to_words(1908), "nineteen oh eight");
}

TEST(TextNormalize, SinoKorean) {
  EXPECT_EQ(number_to_sino_korean(0), "영");
  EXPECT_EQ(number_to_sino_korean(10), "십");
  EXPECT_EQ(number_to_sino_korean(15), "십오");
  EXPECT_EQ(number_to_sino_korean(2024), "이천이십사");
  EXPECT_EQ(number_to_sino_korean(10000), "만");
  EXPECT_EQ(number_to_sino_korean(35000), "삼만오천");
  EXPECT_EQ(number_to_sino_korean(100000000), "일억");
  EXPECT_EQ(normalize_for_speech("2024년 3월", "ko"), "이천이십사년 삼월");
  EXPECT_EQ(normalize_for_speech("가격은 ₩5000 이고 3.5%입니다"), "가격은 오천 원 이고 삼 점 오 퍼센트입니다");
}

TEST(TextNormalize, NumbersInSentences) {
  EXPECT_EQ(normalize_for_speech("I have 3 cats and 1,000 fish."),
            "I have three cats and one thousand fish.");
  EXPECT_EQ(normalize_for_speech("Pi is 3.14."), "Pi is three point one four.");
  EXPECT_EQ(normalize_for_speech("It costs $2.50, or $1."),
            "It costs two dollars and fifty cents, or one dollar.");
  EXPECT_EQ(normalize_for_speech("Up 15% in 1999, the 2nd time."),
            "Up fifteen percent in nineteen ninety-nine, the second time.");
  EXPECT_EQ(normalize_for_speech("It was -5 degrees in the 1990s."),
            "It was minus five degrees in the nineteen nineties.");
  EXPECT_EQ(normalize_for_speech("Agent 007 and mp3"), "Agent zero zero seven and mp3");
}

TEST(TextNormalize, AbbreviationsUrlsEmails) {
  EXPECT_EQ(normalize_for_speech("Dr. Smith vs. Mr. Jones, e.g. today."),
            "Doctor Smith versus Mister Jones, for example today.");
  EXPECT_EQ(normalize_for_speech("See https://www.example.com/a/b?x=1 for more."),
            "See example dot com for more.");
  EXPECT_EQ(normalize_for_speech("Mail jane.doe@mail.example.org."),
            "Mail jane dot doe at mail dot example dot org.");
  EXPECT_EQ(normalize_for_speech("Visit github.com today"), "Visit github dot com today");
}

TEST(TextNormalize, MarkdownAndEmoji) {
  EXPECT_EQ(strip_markdown("# Title\n**Bold** and *it* and `code`\n- item one\n* item two"),
            "Title\nBold and it and code\nitem one\nitem two");
  EXPECT_EQ(strip_markdown("Read [the docs](https://x.y/z) and ![a cat](c.png)."),
            "Read the docs and a cat.");
  EXPECT_EQ(strip_markdown("```cpp\nint x;\n```\nafter"), "int x;\nafter");
  EXPECT_EQ(strip_markdown("> quoted\n---\nsnake_case stays"), "quoted\n\nsnake_case stays");
  EXPECT_EQ(normalize_for_speech("Great job! 🎉👍 Thanks ❤️"), "Great job! Thanks");
  EXPECT_EQ(normalize_for_speech("| a | b |\n|---|---|\n| 1 | 2 |"), "a , b\none , two");
}

TEST(TextNormalize, EmptyAndOddInput) {
  EXPECT_EQ(normalize_for_speech(""), "");
  EXPECT_EQ(normalize_for_speech("   "), "");
  EXPECT_EQ(normalize_for_speech("$"), "$");
  EXPECT_EQ(normalize_for_speech("99999999999999999999"),
            "nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine "
            "nine nine nine");
  // Invalid UTF-8 passes through without crashing.
  EXPECT_EQ(normalize_for_speech("a \xff\xfe b"), "a \xff\xfe b");
}

}  // namespace
}  // namespace omni::pipeline
