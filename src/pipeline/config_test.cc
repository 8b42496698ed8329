#include "pipeline/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "testing/refdata.h"

namespace omni::pipeline {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsWorkWithZeroDownloads) {
  Config c;
  EXPECT_EQ(c.str("asr.engine"), "pocketsphinx");
  EXPECT_EQ(c.str("tts.engine"), "espeak");
  EXPECT_EQ(c.str("vision.mode"), "auto");
  EXPECT_EQ(c.integer("server.port"), 8080);
  EXPECT_EQ(c.entry("llm.temperature").source, ConfigSource::kDefault);
  EXPECT_THROW(c.str("llm.nope"), Error);
  EXPECT_THROW(c.integer("llm.temperature"), Error);  // a number, not an integer
}

TEST(Config, FileThenFlags) {
  Config c;
  c.apply_toml(R"(
[asr]
engine = "whisper"
model = "ggml-base.en.bin"
threads = 2

[llm]
temperature = 0   # an integer is accepted where a number is expected
system_prompt = "Be terse."

[tts]
voice = "ko"
)", "omni.toml");
  EXPECT_EQ(c.str("asr.engine"), "whisper");
  EXPECT_EQ(c.integer("asr.threads"), 2);
  EXPECT_EQ(c.number("llm.temperature"), 0.0);
  EXPECT_EQ(c.entry("llm.temperature").source, ConfigSource::kFile);
  EXPECT_EQ(c.entry("llm.top_p").source, ConfigSource::kDefault);
  c.set_flag("asr.threads", "4");
  c.set_flag_assignment("llm.temperature=0.25");
  c.set_flag("server.api_key", "sekrit");
  EXPECT_EQ(c.integer("asr.threads"), 4);
  EXPECT_EQ(c.number("llm.temperature"), 0.25);
  EXPECT_EQ(c.entry("asr.threads").source, ConfigSource::kFlag);

  const auto j = c.to_json();
  EXPECT_EQ(j["asr"]["engine"]["value"], "whisper");
  EXPECT_EQ(j["asr"]["engine"]["source"], "file");
  EXPECT_EQ(j["asr"]["threads"]["source"], "flag");
  EXPECT_EQ(j["llm"]["top_p"]["source"], "default");
  EXPECT_EQ(j["server"]["api_key"]["value"], "***");  // secrets are masked
  const std::string text = c.to_text();
  EXPECT_NE(text.find("engine = \"whisper\""), std::string::npos) << text;
  EXPECT_EQ(text.find("sekrit"), std::string::npos);
}

TEST(Config, ErrorsNameKeyAndLine) {
  Config c;
  std::string e = error_of([&] { c.apply_toml("[asr]\nengine = \"whisper\"\nmodle = \"x\"\n", "my.toml"); });
  EXPECT_NE(e.find("my.toml:3"), std::string::npos) << e;
  EXPECT_NE(e.find("asr.modle"), std::string::npos) << e;

  e = error_of([&] { c.apply_toml("\n[llm]\nctx = \"big\"\n", "my.toml"); });
  EXPECT_NE(e.find("my.toml:3"), std::string::npos) << e;
  EXPECT_NE(e.find("llm.ctx must be an integer"), std::string::npos) << e;

  e = error_of([&] { c.apply_toml("[voice]\nx = 1\n", "my.toml"); });
  EXPECT_NE(e.find("my.toml:1"), std::string::npos) << e;
  EXPECT_NE(e.find("[voice]"), std::string::npos) << e;

  e = error_of([&] { c.apply_toml("[tts]\nengine = \"festival\"\n", "my.toml"); });
  EXPECT_NE(e.find("my.toml:2"), std::string::npos) << e;
  EXPECT_NE(e.find("espeak, piper, remote"), std::string::npos) << e;

  e = error_of([&] { c.apply_toml("asr = 3\n", "my.toml"); });
  EXPECT_NE(e.find("my.toml:1"), std::string::npos) << e;

  e = error_of([&] { c.apply_toml("[llm]\nmodel = \n", "my.toml"); });  // syntax error
  EXPECT_NE(e.find("my.toml:2"), std::string::npos) << e;

  e = error_of([&] { c.apply_toml("[server]\nport = 1.5\n", "my.toml"); });
  EXPECT_NE(e.find("server.port must be an integer"), std::string::npos) << e;

  EXPECT_NE(error_of([&] { c.set_flag("llm.ctx", "12x"); }).find("must be an integer"), std::string::npos);
  EXPECT_NE(error_of([&] { c.set_flag("vision.mode", "magic"); }).find("not one of"), std::string::npos);
  EXPECT_NE(error_of([&] { c.set_flag("nope.x", "1"); }).find("unknown setting 'nope.x'"), std::string::npos);
  EXPECT_THROW(c.set_flag_assignment("llm.ctx"), Error);
}

TEST(Config, LoadFromFileAndCli) {
  const auto dir = std::filesystem::temp_directory_path() / "omni_config_test";
  std::filesystem::create_directories(dir);
  const auto path = (dir / "omni.toml").string();
  {
    std::ofstream f(path);
    f << "[llm]\nmodel = \"stories260K.gguf\"\n[server]\nport = 9000\n";
  }
  const Config c = Config::load(path);
  EXPECT_EQ(c.file(), path);
  EXPECT_EQ(c.integer("server.port"), 9000);
  EXPECT_THROW(Config::load((dir / "missing.toml").string()), Error);

  std::string out;
  const std::string omni = testing::binary("omni");
  ASSERT_EQ(testing::run_command(omni + " config show --json --config " + path +
                                     " --set server.port=9100", &out), 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["llm"]["model"]["value"], "stories260K.gguf");
  EXPECT_EQ(j["llm"]["model"]["source"], "file");
  EXPECT_EQ(j["server"]["port"]["value"], 9100);
  EXPECT_EQ(j["server"]["port"]["source"], "flag");
  EXPECT_EQ(j["file"], path);
  // $OMNI_CONFIG names the file too; a bad file is exit code 1 with the line.
  {
    std::ofstream f(path);
    f << "[llm]\n\ntempreature = 1\n";
  }
  EXPECT_EQ(testing::run_command("OMNI_CONFIG=" + path + " " + omni + " config show", &out, true), 1);
  EXPECT_NE(out.find("omni.toml:3"), std::string::npos) << out;
  EXPECT_NE(out.find("llm.tempreature"), std::string::npos) << out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace omni::pipeline
