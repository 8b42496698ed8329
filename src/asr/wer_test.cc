#include "asr/wer.h"

#include <gtest/gtest.h>

namespace omni::asr {
namespace {

TEST(Wer, NormalisesLikeTheReferenceTranscripts) {
  EXPECT_EQ(normalize_transcript("And so, my fellow Americans -- ask NOT!"),
            "and so my fellow americans ask not");
  EXPECT_EQ(normalize_transcript("  it's  10\tmeters. "), "it's 10 meters");
  EXPECT_EQ(normalize_transcript("Ünïcode é"), "n code");  // non-ASCII bytes are separators
}

TEST(Wer, CountsSubstitutionsDeletionsInsertions) {
  const auto same = word_error_rate("go forward ten meters", "Go forward, ten meters.");
  EXPECT_EQ(same.errors(), 0u);
  EXPECT_EQ(same.reference_words, 4u);
  const auto sub = word_error_rate("go forward ten meters", "go forward two meters");
  EXPECT_EQ(sub.substitutions, 1u);
  EXPECT_DOUBLE_EQ(sub.rate(), 0.25);
  const auto del = word_error_rate("go forward ten meters", "go ten meters");
  EXPECT_EQ(del.deletions, 1u);
  EXPECT_EQ(del.errors(), 1u);
  const auto ins = word_error_rate("go forward", "go go forward now");
  EXPECT_EQ(ins.insertions, 2u);
  EXPECT_DOUBLE_EQ(ins.rate(), 1.0);
  EXPECT_DOUBLE_EQ(word_error_rate("", "").rate(), 0.0);
  EXPECT_DOUBLE_EQ(word_error_rate("", "hello").rate(), 1.0);
  EXPECT_EQ(word_error_rate("a b c", "").deletions, 3u);
}

}  // namespace
}  // namespace omni::asr
