// `omni chat` as a subprocess with piped input: text turns, /say, /audio and errors.
#include <gtest/gtest.h>

#include <filesystem>

#include "asr/wav.h"
#include "testing/refdata.h"

namespace omni {
namespace {

using omni::testing::binary;
using omni::testing::refdata;
using omni::testing::run_command;

TEST(ChatCli, TextSayAndAudioCommands) {
  const std::string wav =
      (std::filesystem::temp_directory_path() / "omni_chat_test_reply.wav").string();
  std::filesystem::remove(wav);
  const std::string input = "Once upon a time\\n/say on\\nThe dog\\n/image x.png\\n/audio " +
                            refdata("asr/audio/pocketsphinx_goforward.wav") + "\\n/bogus\\n/exit\\n";
  std::string out;
  ASSERT_EQ(run_command("printf '" + input + "' | " + binary("omni") + " chat -m " +
                            refdata("llm/models/stories260K.gguf") + " --asr-model " +
                            refdata("asr/models/ggml-micro.en-random-f16.bin") +
                            " -n 12 --temp 0 -t 1 --say-out " + wav,
                        &out, true),
            0)
      << out;
  EXPECT_NE(out.find("(speech on: replies are written to"), std::string::npos) << out;
  EXPECT_NE(out.find("spoke "), std::string::npos) << out;
  EXPECT_NE(out.find("(heard: "), std::string::npos) << out;
  EXPECT_NE(out.find("x.png: cannot open image file"), std::string::npos) << out;  // /image x.png
  EXPECT_NE(out.find("unknown command /bogus"), std::string::npos) << out;
  const asr::Audio a = asr::read_wav_file(wav);
  EXPECT_GT(a.seconds(), 0.1);
  std::filesystem::remove(wav);
}

}  // namespace
}  // namespace omni
