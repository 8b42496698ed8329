#include "server/transcription.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/openai.h"

namespace omni::server {
namespace {

asr::Transcript sample() {
  asr::Transcript t;
  t.text = " Hello there. Second line";
  asr::WhisperSegment a;
  a.t0 = 0;
  a.t1 = 250;
  a.text = " Hello there.";
  a.tokens = {{.id = 50363, .plog = -1.0f}, {.id = 15496, .plog = -3.0f}};
  asr::WhisperSegment b;
  b.t0 = 366012;  // 1 h 1 min 0.12 s
  b.t1 = 366100;
  b.text = " Second line";
  asr::WhisperSegment empty;
  empty.t0 = empty.t1 = 366100;
  empty.text = " ";
  t.segments = {a, b, empty};
  return t;
}

TEST(TranscriptFormat, SubtitleTimes) {
  EXPECT_EQ(subtitle_time(0, ','), "00:00:00,000");
  EXPECT_EQ(subtitle_time(366012, ','), "01:01:00,120");
  EXPECT_EQ(subtitle_time(5999, '.'), "00:00:59.990");
  EXPECT_EQ(subtitle_time(-5, '.'), "00:00:00.000");
}

TEST(TranscriptFormat, EveryFormat) {
  const auto t = sample();
  auto f = [&](TranscriptFormat k) { return format_transcript(t, k, "transcribe", "en", 3661.0).body; };
  EXPECT_EQ(f(TranscriptFormat::kJson), R"({"text":"Hello there. Second line"})");
  EXPECT_EQ(f(TranscriptFormat::kText), "Hello there. Second line\n");
  EXPECT_EQ(f(TranscriptFormat::kSrt),
            "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n"
            "2\n01:01:00,120 --> 01:01:01,000\nSecond line\n\n");
  EXPECT_EQ(f(TranscriptFormat::kVtt),
            "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there.\n\n"
            "01:01:00.120 --> 01:01:01.000\nSecond line\n\n");
  const auto v = nlohmann::json::parse(f(TranscriptFormat::kVerboseJson));
  EXPECT_EQ(v["task"], "transcribe");
  EXPECT_EQ(v["duration"], 3661.0);
  ASSERT_EQ(v["segments"].size(), 3u);
  EXPECT_EQ(v["segments"][0]["start"], 0.0);
  EXPECT_EQ(v["segments"][0]["end"], 2.5);
  EXPECT_EQ(v["segments"][0]["tokens"], nlohmann::json({50363, 15496}));
  EXPECT_DOUBLE_EQ(v["segments"][0]["avg_logprob"].get<double>(), -2.0);
  EXPECT_EQ(v["segments"][1]["text"], " Second line");
}

TEST(TranscriptFormat, ParsesNames) {
  EXPECT_EQ(parse_transcript_format("srt"), TranscriptFormat::kSrt);
  EXPECT_EQ(parse_transcript_format("verbose_json"), TranscriptFormat::kVerboseJson);
  EXPECT_THROW(parse_transcript_format("xml"), ApiError);
  EXPECT_THROW(parse_transcript_format(""), ApiError);
}

}  // namespace
}  // namespace omni::server
