#include "pipeline/stages.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <thread>


namespace omni::pipeline {
namespace {

TEST(CancelToken, CopiesShareTheFlag) {
  CancelToken a;
  CancelToken b = a;
  EXPECT_FALSE(b.cancelled());
  std::thread t([a] { a.cancel(); });
  t.join();
  EXPECT_TRUE(b.cancelled());
  EXPECT_THROW(b.throw_if_cancelled("turn"), Cancelled);
  CancelToken fresh;
  EXPECT_FALSE(fresh.cancelled());
  EXPECT_NO_THROW(fresh.throw_if_cancelled("turn"));
}

TEST(CancelToken, DeadlineInThePastCancels) {
  CancelToken t;
  t.set_deadline(Clock::now() + std::chrono::hours(1));
  EXPECT_FALSE(t.cancelled());
  t.set_deadline(Clock::now() - std::chrono::milliseconds(1));
  EXPECT_TRUE(t.cancelled());
  t.clear_deadline();
  EXPECT_FALSE(t.cancelled());
}

TEST(UserMessage, JoinsTextPartsAndSeesImages) {
  UserMessage m = UserMessage::text_only("what is this?");
  EXPECT_FALSE(m.has_images());
  auto img = std::make_shared<ImageInput>();
  m.parts.push_back(MessagePart{"", img, nullptr});
  m.parts.push_back(MessagePart{"words: STOP", nullptr, nullptr});
  EXPECT_TRUE(m.has_images());
  EXPECT_EQ(m.joined_text(), "what is this?\nwords: STOP");
}

TEST(ImageInput, ReadsAFileAndSniffsItsType) {
  const std::string path = ::testing::TempDir() + "/stages_test.png";
  {
    std::ofstream f(path, std::ios::binary);
    f << "\x89PNG\r\n\x1a\n" << "rest";
  }
  const ImageInput img = ImageInput::from_file(path);
  EXPECT_EQ(img.mime, "image/png");
  EXPECT_EQ(img.bytes.size(), 12u);
  EXPECT_EQ(img.source, path);
  std::remove(path.c_str());
  EXPECT_THROW(ImageInput::from_file(path), Error);
  { std::ofstream f(path, std::ios::binary); }
  EXPECT_THROW(ImageInput::from_file(path), Error);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace omni::pipeline
