// `omni run` as a subprocess: one turn from refdata audio (random-weight whisper), the stories
// model and espeak-ng, its JSON, WAV and trace outputs, and its errors.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
// stb's own code trips -Wnull-dereference at -O3 (a false positive in its zlib writer).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "asr/wav.h"
#include "asr/wer.h"
#include "testing/refdata.h"
#include "vision/text_render_testing.h"

namespace omni {
namespace {

using omni::testing::binary;
using omni::testing::read_file;
using omni::testing::refdata;
using omni::testing::run_command;

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("omni_run_test_" + name)).string();
}

TEST(RunCli, AudioTurnWritesAnswerWavTraceAndJson) {
  const std::string wav = tmp("answer.wav"), trace = tmp("trace.json");
  std::string out;
  const std::string cmd = binary("omni") + " run -m " + refdata("llm/models/stories260K.gguf") +
                          " --asr-model " + refdata("asr/models/ggml-micro.en-random-f16.bin") +
                          " --audio " + refdata("asr/audio/pocketsphinx_goforward.wav") +
                          " --text 'Once upon a time' -n 24 -t 1 --json --out " + wav +
                          " --trace " + trace;
  ASSERT_EQ(run_command(cmd, &out), 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_FALSE(j["answer"].get<std::string>().empty());
  EXPECT_NE(j["prompt"].get<std::string>().find("Once upon a time"), std::string::npos);
  EXPECT_GE(j["timings"]["voice_to_voice_ms"].get<double>(), 0.0);
  EXPECT_GT(j["timings"]["stages"]["asr_ms"].get<double>(), 0.0);
  EXPECT_NEAR(j["timings"]["input_audio_s"].get<double>(), 2.786, 0.01);
  const asr::Audio a = asr::read_wav_file(wav);
  EXPECT_EQ(a.channels, 1);
  EXPECT_GT(a.sample_rate, 0);
  EXPECT_NEAR(a.seconds(), j["answer_audio_s"].get<double>(), 1e-3);
  float peak = 0;
  for (float s : a.samples) peak = std::max(peak, std::abs(s));
  EXPECT_GT(peak, 0.05f);
  const auto t = nlohmann::json::parse(read_file(trace));
  EXPECT_GT(t["events"].size(), 5u);
  EXPECT_EQ(t["tokens"]["generated"].get<int>(), j["timings"]["tokens"]["generated"].get<int>());
  std::filesystem::remove(wav);
  std::filesystem::remove(trace);
}

TEST(RunCli, TextTurnPrintsAnswerAndTimings) {
  std::string out;
  ASSERT_EQ(run_command(binary("omni") + " run -m " + refdata("llm/models/stories260K.gguf") +
                            " --text 'Once upon a time' -n 16 -t 1 --voice espeak:ko",
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("answer: "), std::string::npos) << out;
  EXPECT_NE(out.find("voice-to-voice"), std::string::npos) << out;
}

TEST(RunCli, ClearErrors) {
  const std::string llm = refdata("llm/models/stories260K.gguf");
  std::string out;
  EXPECT_EQ(run_command(binary("omni") + " run -m " + llm, &out, true), 1);
  EXPECT_NE(out.find("--audio"), std::string::npos) << out;
  // Without a Whisper model speech goes to PocketSphinx, which knows English only.
  EXPECT_EQ(run_command(binary("omni") + " run -m " + llm + " -l ko --no-speech --audio " +
                            refdata("asr/audio/jfk.wav"),
                        &out, true),
            1);
  EXPECT_NE(out.find("--asr-model"), std::string::npos) << out;
  EXPECT_EQ(run_command(binary("omni") + " run -m " + llm + " --image " +
                            refdata("asr/audio/jfk.wav"),
                        &out, true),
            1);
  EXPECT_NE(out.find("jfk.wav"), std::string::npos) << out;
  EXPECT_EQ(run_command(binary("omni") + " run -m " + llm + " --text hi --audio /nonexistent.wav",
                        &out, true),
            1);
  EXPECT_NE(out.find("nonexistent.wav"), std::string::npos) << out;
  EXPECT_EQ(run_command(binary("omni") + " run -m " + llm + " --text hi --voice espeak:nosuchvoice",
                        &out, true),
            1)
      << out;
}

nlohmann::json run_json(const std::string& args) {
  std::string out;
  const std::string cmd = binary("omni") + " run -m " + refdata("llm/models/stories260K.gguf") +
                          " -n 8 -t 1 --no-speech --json " + args;
  EXPECT_EQ(run_command(cmd, &out), 0) << cmd << "\n" << out;
  return nlohmann::json::parse(out);
}

// Zero downloads: speech goes through PocketSphinx when no Whisper model is configured.
TEST(RunCli, DefaultRecognizerNeedsNoModel) {
  const auto j = run_json("--audio " + refdata("asr/audio/pocketsphinx_goforward.wav"));
  EXPECT_EQ(j["transcript"], "go forward ten meters");
}

// Round trip through the CLI: `omni speak` says a command, `omni run --audio --asr-grammar`
// hears it through a command grammar (RoundTrip.* in src/pipeline measures the word error rates).
TEST(RunCli, SpokenCommandRoundTripsThroughAGrammar) {
  const std::string gram = tmp("commands.gram"), wav = tmp("command.wav");
  std::ofstream(gram) << "#JSGF V1.0;\ngrammar commands;\n"
                         "public <c> = ( turn on | turn off ) the ( light | radio | fan )"
                         " [ in the ( kitchen | garden | hall ) ] ;\n";
  const std::vector<std::string> said = {"turn off the radio in the kitchen",
                                         "turn on the fan in the garden"};
  for (const auto& text : said) {
    std::string out;
    ASSERT_EQ(run_command(binary("omni") + " speak '" + text + "' --voice en-us+f2 -o " + wav,
                          &out),
              0)
        << out;
    const auto j = run_json("--audio " + wav + " --asr-grammar " + gram);
    EXPECT_EQ(j["transcript"], text);
  }
  // A grammar is PocketSphinx's: with a Whisper model it is refused.
  std::string out;
  EXPECT_NE(run_command(binary("omni") + " run -m " + refdata("llm/models/stories260K.gguf") +
                            " --asr-model " + refdata("asr/models/ggml-micro.en-random-f16.bin") +
                            " --asr-grammar " + gram + " --audio " + wav + " --no-speech",
                        &out, true),
            0);
  EXPECT_NE(out.find("asr-grammar"), std::string::npos) << out;
  std::filesystem::remove(gram);
  std::filesystem::remove(wav);
}

// Words path: an image's text reaches the LLM prompt through OCR.
TEST(RunCli, ImageTextThroughOcr) {
  const auto img = testing::render_text(testing::system_font("DejaVuSans.ttf"),
                                        {"Meeting at 10 am", "Room 42"}, 36);
  const std::string png = tmp("note.png");
  ASSERT_TRUE(stbi_write_png(png.c_str(), img.width, img.height, 3, img.rgb.data(), img.width * 3));
  const auto j = run_json("--image " + png + " --text 'When is the meeting?'");
  EXPECT_EQ(asr::normalize_transcript(j["image_text"].get<std::string>()), "meeting at 10 am room 42")
      << j["image_text"];
}

// omni.toml drives `omni run`: the LLM and its answer length come from the file, a flag wins
// over the file, and [pipeline] vad = false turns off the trimming of trailing silence.
TEST(RunCli, ConfigFileChangesWhatRunDoes) {
  const std::string conf = tmp("omni.toml"), wav = tmp("question_silence.wav");
  {
    asr::Audio a = asr::read_wav_file(refdata("asr/audio/pocketsphinx_goforward.wav"));
    a.samples.resize(a.samples.size() + static_cast<size_t>(a.sample_rate) * 3, 0.0f);
    asr::write_wav_file(wav, a, asr::WavEncoding::kPcm16);
  }
  auto write_conf = [&](const std::string& extra) {
    std::ofstream f(conf);
    f << "[llm]\nmodel = \"" << refdata("llm/models/stories260K.gguf") << "\"\n"
      << "max_tokens = 3\ntemperature = 0.0\n" << extra;
  };
  auto run_json = [&](const std::string& args) {
    std::string out;
    const std::string cmd = binary("omni") + " run --config " + conf + " --no-speech --json -t 1 " + args;
    EXPECT_EQ(run_command(cmd, &out), 0) << cmd << "\n" << out;
    return nlohmann::json::parse(out.empty() ? "{}" : out);
  };
  write_conf("");
  // No -m: the model comes from the file, and so does the answer length.
  auto j = run_json("--text 'Once upon a time'");
  EXPECT_EQ(j["timings"]["tokens"]["generated"].get<int>(), 3);
  j = run_json("--text 'Once upon a time' -n 5");
  EXPECT_EQ(j["timings"]["tokens"]["generated"].get<int>(), 5);
  // The default VAD trims the 3 s of silence after the question (PocketSphinx, no model).
  j = run_json("--audio " + wav);
  EXPECT_NEAR(j["timings"]["input_audio_s"].get<double>(), 5.786, 0.01);
  EXPECT_LT(j["timings"]["speech_audio_s"].get<double>(), 3.1);
  EXPECT_EQ(j["transcript"].get<std::string>(), "go forward ten meters");
  write_conf("[pipeline]\nvad = false\n");
  j = run_json("--audio " + wav);
  EXPECT_NEAR(j["timings"]["speech_audio_s"].get<double>(), 5.786, 0.01);
  // --set overrides the file too, and a bad value names the key.
  j = run_json("--text 'Once upon a time' --set llm.max_tokens=2");
  EXPECT_EQ(j["timings"]["tokens"]["generated"].get<int>(), 2);
  std::string out;
  EXPECT_EQ(run_command(binary("omni") + " run --config " + conf + " --text hi --set asr.engine=x",
                        &out, true), 1);
  EXPECT_NE(out.find("asr.engine"), std::string::npos) << out;
  std::filesystem::remove(conf);
  std::filesystem::remove(wav);
}

}  // namespace
}  // namespace omni
