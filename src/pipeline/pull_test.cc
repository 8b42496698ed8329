#include "pipeline/pull.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "core/error.h"
#include "core/sha256.h"
#include "testing/local_http.h"
#include "testing/refdata.h"

namespace omni::pipeline {
namespace {
namespace fs = std::filesystem;

// Serves files from memory with our own Range handling, so each failure mode can be staged.
class FileServer {
 public:
  std::map<std::string, std::string> files;
  bool support_range = true;
  int64_t fail_after = -1;  // close the connection after this many body bytes (once)
  bool corrupt = false;     // flip a byte in every response
  std::string etag;         // sent as X-Linked-Etag when set
  std::vector<std::string> range_headers;  // one per request ("" without Range)

  FileServer() {
    http_.server().Get(R"(/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res);
    });
    http_.start();
  }
  std::string url(const std::string& name) const { return http_.url("/" + name); }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu_);
    range_headers.push_back(req.get_header_value("Range"));
    auto it = files.find(req.matches[1]);
    if (it == files.end()) {
      res.status = 404;
      res.set_content("Entry not found", "text/plain");
      return;
    }
    std::string body = it->second;
    const std::string range = req.get_header_value("Range");
    size_t from = 0;
    if (support_range && range.starts_with("bytes=")) {
      from = std::stoull(range.substr(6));
      if (from >= body.size()) {
        res.status = 416;
        return;
      }
      res.status = 206;
      res.set_header("Content-Range", "bytes " + std::to_string(from) + "-" +
                                          std::to_string(body.size() - 1) + "/" +
                                          std::to_string(body.size()));
    } else {
      res.status = 200;
    }
    if (!etag.empty()) res.set_header("X-Linked-Etag", "\"" + etag + "\"");
    std::string out = body.substr(from);
    if (corrupt && !out.empty()) out[out.size() / 2] ^= 1;
    int64_t limit = -1;
    if (fail_after >= 0) {
      limit = fail_after;
      fail_after = -1;
    }
    // Chunked on purpose: cpp-httplib applies Range by itself to sized responses.
    res.set_chunked_content_provider("application/octet-stream",
        [out, limit](size_t offset, httplib::DataSink& sink) {
          if (offset >= out.size()) {
            sink.done();
            return true;
          }
          size_t n = std::min<size_t>(4096, out.size() - offset);
          if (limit >= 0) {
            if (offset >= static_cast<size_t>(limit)) return false;  // drop the connection
            n = std::min<size_t>(n, static_cast<size_t>(limit) - offset);
          }
          return sink.write(out.data() + offset, n);
        });
  }
  std::mutex mu_;
  testing::LocalHttpServer http_;
};

std::string blob(size_t n, int seed) {
  std::string s(n, '\0');
  uint32_t x = static_cast<uint32_t>(seed) * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

class PullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("omni_pull_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    opts_.dir = dir_.string();
    opts_.on_note = [this](const std::string& n) { notes_.push_back(n); };
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string read(const fs::path& p) {
    std::string out;
    FILE* f = std::fopen(p.c_str(), "rb");
    if (!f) return out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
  }
  fs::path dir_;
  PullOptions opts_;
  std::vector<std::string> notes_;
};

TEST_F(PullTest, DownloadsVerifiesAndRenames) {
  FileServer s;
  s.files["m.gguf"] = blob(100000, 1);
  std::vector<PullProgress> progress;
  opts_.on_progress = [&](const PullProgress& p) { progress.push_back(p); };
  const auto r = pull_file({s.url("m.gguf"), "m.gguf", sha256_hex(s.files["m.gguf"])}, opts_);
  EXPECT_TRUE(r.verified);
  EXPECT_EQ(read(r.path), s.files["m.gguf"]);
  EXPECT_FALSE(fs::exists(r.path + ".part"));
  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(progress.back().finished);
  EXPECT_EQ(progress.back().done, 100000u);
  // Present and verified: nothing is fetched again.
  const size_t requests = s.range_headers.size();
  EXPECT_TRUE(pull_file({s.url("m.gguf"), "m.gguf", r.sha256}, opts_).already_present);
  EXPECT_EQ(s.range_headers.size(), requests);
}

TEST_F(PullTest, ResumesAnInterruptedTransferWithRange) {
  FileServer s;
  s.files["m.bin"] = blob(50000, 2);
  s.fail_after = 20000;
  opts_.retries = 0;
  const PullFile f{s.url("m.bin"), "m.bin", sha256_hex(s.files["m.bin"])};
  try {
    pull_file(f, opts_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("resume"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "m.bin"));
  ASSERT_EQ(fs::file_size(dir_ / "m.bin.part"), 20000u);
  const auto r = pull_file(f, opts_);
  EXPECT_TRUE(r.verified);
  EXPECT_EQ(read(r.path), s.files["m.bin"]);
  EXPECT_EQ(s.range_headers.back(), "bytes=20000-");
  EXPECT_FALSE(fs::exists(dir_ / "m.bin.part"));
}

TEST_F(PullTest, RetriesByItselfFromWhereItStopped) {
  FileServer s;
  s.files["m.bin"] = blob(30000, 3);
  s.fail_after = 10000;
  const auto r = pull_file({s.url("m.bin"), "m.bin", sha256_hex(s.files["m.bin"])}, opts_);
  EXPECT_EQ(read(r.path), s.files["m.bin"]);
  ASSERT_EQ(s.range_headers.size(), 2u);
  EXPECT_EQ(s.range_headers[0], "");
  EXPECT_EQ(s.range_headers[1], "bytes=10000-");
}

TEST_F(PullTest, ServerWithoutRangeRestartsFromZero) {
  FileServer s;
  s.support_range = false;
  s.files["m.bin"] = blob(30000, 4);
  fs::create_directories(dir_);
  {
    std::ofstream part(dir_ / "m.bin.part", std::ios::binary);
    part << "garbage that is not the start of the file";
  }
  const auto r = pull_file({s.url("m.bin"), "m.bin", sha256_hex(s.files["m.bin"])}, opts_);
  EXPECT_TRUE(r.verified);
  EXPECT_EQ(read(r.path), s.files["m.bin"]);
  bool noted = false;
  for (const auto& n : notes_) noted |= n.find("restarting") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST_F(PullTest, ChecksumMismatchLeavesNoFile) {
  FileServer s;
  s.files["m.bin"] = blob(30000, 5);
  s.corrupt = true;
  try {
    pull_file({s.url("m.bin"), "m.bin", sha256_hex(s.files["m.bin"])}, opts_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checksum mismatch"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "m.bin"));
  EXPECT_FALSE(fs::exists(dir_ / "m.bin.part"));
}

TEST_F(PullTest, ServerStatedHashIsChecked) {
  FileServer s;
  s.files["m.bin"] = blob(3000, 6);
  s.etag = sha256_hex(s.files["m.bin"]);
  EXPECT_TRUE(pull_file({s.url("m.bin"), "m.bin", ""}, opts_).verified);
  s.files["n.bin"] = blob(3000, 7);  // the stated hash belongs to another file
  EXPECT_THROW(pull_file({s.url("n.bin"), "n.bin", ""}, opts_), Error);
  EXPECT_FALSE(fs::exists(dir_ / "n.bin"));
  s.etag.clear();
  const auto r = pull_file({s.url("n.bin"), "n.bin", ""}, opts_);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.sha256, sha256_hex(s.files["n.bin"]));
}

TEST_F(PullTest, NotFound) {
  FileServer s;
  try {
    pull_file({s.url("nope.gguf"), "nope.gguf", ""}, opts_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("404"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "nope.gguf"));
}

TEST_F(PullTest, DiskFullIsNamed) {
  FileServer s;
  s.files["m.bin"] = blob(10000, 8);
  fs::create_directories(dir_);
  fs::create_symlink("/dev/full", dir_ / "m.bin.part");  // every write fails with ENOSPC
  try {
    pull_file({s.url("m.bin"), "m.bin", ""}, opts_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("disk full"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "m.bin"));
  EXPECT_EQ(s.range_headers.size(), 1u);  // not retried
}

TEST_F(PullTest, PiperVoiceUrlPullsModelAndConfig) {
  FileServer s;
  s.files["v/en-x.onnx"] = blob(5000, 9);
  s.files["v/en-x.onnx.json"] = R"({"audio":{"sample_rate":22050}})";
  const auto files = resolve_pull(s.url("v/en-x.onnx"));
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[1].filename, "en-x.onnx.json");
  const auto rs = pull(s.url("v/en-x.onnx"), opts_);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(read(dir_ / "en-x.onnx"), s.files["v/en-x.onnx"]);
  EXPECT_EQ(read(dir_ / "en-x.onnx.json"), s.files["v/en-x.onnx.json"]);
}

TEST_F(PullTest, CliPullsAUrlAndReportsErrors) {
  FileServer s;
  s.files["m.gguf"] = blob(70000, 10);
  const std::string hex = sha256_hex(s.files["m.gguf"]);
  std::string out;
  const std::string omni = testing::binary("omni");
  ASSERT_EQ(testing::run_command(omni + " pull " + s.url("m.gguf") + " -o " + dir_.string() +
                                     " --sha256 " + hex, &out, true), 0) << out;
  EXPECT_NE(out.find("sha256 verified"), std::string::npos) << out;
  EXPECT_NE(out.find("m.gguf: "), std::string::npos) << out;  // plain progress lines (no TTY)
  EXPECT_EQ(read(dir_ / "m.gguf"), s.files["m.gguf"]);
  EXPECT_EQ(testing::run_command(omni + " pull " + s.url("missing.gguf") + " -o " + dir_.string(),
                                 &out, true), 1);
  EXPECT_NE(out.find("HTTP 404"), std::string::npos) << out;
}

TEST(PullRegistry, NamesResolve) {
  const auto voice = resolve_pull("piper-en_US-lessac-medium");
  ASSERT_EQ(voice.size(), 2u);
  EXPECT_EQ(voice[0].filename, "en_US-lessac-medium.onnx");
  EXPECT_EQ(voice[1].filename, "en_US-lessac-medium.onnx.json");
  EXPECT_EQ(resolve_pull("whisper-base.en")[0].filename, "ggml-base.en.bin");
  EXPECT_EQ(find_known_model("qwen2.5-0.5b-instruct-q4_k_m")->stage, "llm");
  try {
    resolve_pull("no-such-model");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("whisper-base.en"), std::string::npos);
  }
  EXPECT_THROW(resolve_pull("whisper-base.en", "xyz"), Error);
  EXPECT_THROW(resolve_pull("http://host/dir/"), Error);
}

}  // namespace
}  // namespace omni::pipeline
