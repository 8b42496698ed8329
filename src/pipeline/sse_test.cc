#include "pipeline/sse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace omni::http {
namespace {

std::vector<SseEvent> parse_in_pieces(const std::string& s, size_t piece) {
  SseParser p;
  std::vector<SseEvent> out;
  auto on = [&](const SseEvent& e) { out.push_back(e); };
  for (size_t i = 0; i < s.size(); i += piece) p.feed(std::string_view(s).substr(i, piece), on);
  p.finish(on);
  return out;
}

TEST(Sse, OpenAiStream) {
  const std::string s =
      ": keep-alive\n\n"
      "data: {\"a\":1}\n\n"
      "event: delta\r\ndata:{\"b\":2}\r\n\r\n"
      "id: 7\nretry: 10\ndata: line1\ndata: line2\n\n"
      "data: [DONE]\n\n";
  for (size_t piece : {1, 2, 3, 7, 1000}) {
    const auto ev = parse_in_pieces(s, piece);
    ASSERT_EQ(ev.size(), 4u) << piece;
    EXPECT_EQ(ev[0].data, "{\"a\":1}");
    EXPECT_EQ(ev[0].event, "");
    EXPECT_EQ(ev[1].data, "{\"b\":2}");
    EXPECT_EQ(ev[1].event, "delta");
    EXPECT_EQ(ev[2].data, "line1\nline2");
    EXPECT_TRUE(ev[3].done());
    EXPECT_FALSE(ev[2].done());
  }
}

TEST(Sse, CrOnlyLinesUnterminatedLastEventAndNoDataEvents) {
  auto ev = parse_in_pieces("data: a\r\rdata: b\n\nevent: x\n\ndata: c", 1);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].data, "a");
  EXPECT_EQ(ev[1].data, "b");
  EXPECT_EQ(ev[2].data, "c");  // delivered by finish()
  EXPECT_EQ(ev[2].event, "");  // the data-less `event: x` was dropped with its block
  ev = parse_in_pieces("data\n\n", 1);  // field without colon: empty data
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "");
}

TEST(Sse, HugeEventIsAFormatError) {
  SseParser p(100);
  auto on = [](const SseEvent&) {};
  EXPECT_THROW(p.feed("data: " + std::string(200, 'x'), on), FormatError);
  SseParser q(100);
  std::string many;
  for (int i = 0; i < 50; ++i) many += "data: xxxx\n";
  EXPECT_THROW(q.feed(many, on), FormatError);
}

}  // namespace
}  // namespace omni::http
