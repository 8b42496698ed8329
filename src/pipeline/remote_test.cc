// Remote backends against real servers: `omni serve` in-process for chat (the reference is the
// engine's own llm::Chat), and small cpp-httplib servers speaking the OpenAI audio shapes.
#include "pipeline/remote.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "asr/wav.h"
#include "core/thread_pool.h"
#include "llm/chat.h"
#include "llm/model.h"
#include "pipeline/http_client.h"
#include "server/server.h"
#include "testing/local_http.h"
#include "testing/refdata.h"

namespace omni::pipeline {
namespace {

using nlohmann::json;
using testing::LocalHttpServer;

class OmniServe {
 public:
  explicit OmniServe(const std::string& model) : server_(opts(model)) {
    port_ = server_.bind();
    thread_ = std::thread([this] { server_.run(); });
  }
  ~OmniServe() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  static server::ServerOptions opts(const std::string& model) {
    server::ServerOptions o;
    o.model_path = model;
    o.port = 0;
    o.threads = 1;
    return o;
  }
  server::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(RemoteLlm, TwoTurnsAgainstOmniServeEqualTheEngine) {
  const std::string path = testing::refdata("llm/models/tiny-qwen2-rand-f32.gguf");
  ThreadPool pool(1);
  auto model = llm::Model::load(path);
  llm::Chat chat(model, {.pool = &pool}, "You are terse.");
  llm::GenerateOptions go;
  go.max_tokens = 10;
  go.sampling.temperature = 0;
  const auto want1 = chat.send("Hello there", go);
  const auto want2 = chat.send("And again?", go);

  OmniServe serve(path);
  auto lm = make_remote_language_model({.url = serve.url() + "/v1", .model = "tiny-qwen2-rand-f32"});
  auto conv = lm->start_conversation("You are terse.");
  GenOptions o;
  o.max_tokens = 10;
  o.temperature = 0;
  CancelToken cancel;
  conv->add_user(UserMessage::text_only("Hello there"));
  std::string streamed;
  int pieces = 0;
  const Reply r1 = conv->generate(o, cancel, [&](std::string_view p) {
    streamed += p;
    ++pieces;
    return true;
  });
  EXPECT_EQ(r1.text, want1.text);
  EXPECT_EQ(streamed, want1.text);
  EXPECT_GT(pieces, 1);  // streamed, not one block
  EXPECT_EQ(r1.finish_reason, want1.finish_reason);
  // The second turn only matches if the first turn went back to the server with it.
  conv->add_user(UserMessage::text_only("And again?"));
  const Reply r2 = conv->generate(o, cancel);
  EXPECT_EQ(r2.text, want2.text);

  // A callback that says stop ends the stream after one piece.
  conv->reset();
  conv->add_user(UserMessage::text_only("Hello there"));
  int n = 0;
  const Reply r3 = conv->generate(o, cancel, [&](std::string_view) { return ++n < 1; });
  EXPECT_EQ(n, 1);
  EXPECT_EQ(r3.finish_reason, "cancelled");
}

TEST(RemoteLlm, ServerErrorsCarryTheirMessage) {
  OmniServe serve(testing::refdata("llm/models/stories260K.gguf"));  // no chat template: 400
  auto conv = make_remote_language_model({.url = serve.url(), .model = "stories260K"})->start_conversation("");
  conv->add_user(UserMessage::text_only("hi"));
  try {
    conv->generate({}, CancelToken());
    FAIL();
  } catch (const http::HttpError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_FALSE(e.message().empty());
  }
  auto refused = make_remote_language_model({.url = "http://127.0.0.1:1"})->start_conversation("");
  refused->add_user(UserMessage::text_only("hi"));
  EXPECT_THROW(refused->generate({}, CancelToken()), Error);
}

// A fake chat server: records the request, streams three pieces (the last one slowly).
TEST(RemoteLlm, ImagesHistoryAndCancel) {
  LocalHttpServer s;
  std::vector<json> requests;
  std::mutex mu;
  s.server().Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard<std::mutex> l(mu);
      requests.push_back(json::parse(req.body));
    }
    res.set_chunked_content_provider("text/event-stream", [](size_t, httplib::DataSink& sink) {
      for (const char* p : {"A", "B", "C"}) {
        const std::string ev = "data: " + json({{"choices", {{{"index", 0}, {"delta", {{"content", p}}}}}}}).dump() + "\n\n";
        if (!sink.write(ev.data(), ev.size())) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      const std::string end = "data: " + json({{"choices", {{{"index", 0}, {"delta", json::object()}, {"finish_reason", "length"}}}}}).dump() +
                              "\n\ndata: [DONE]\n\n";
      sink.write(end.data(), end.size());
      sink.done();
      return true;
    });
  });
  s.start();
  auto conv = make_remote_language_model({.url = s.url(), .model = "m", .api_key = "k"})->start_conversation("sys");
  EXPECT_TRUE(conv->supports_images());
  UserMessage m;
  auto img = std::make_shared<ImageInput>();
  img->bytes = {0x89, 'P', 'N', 'G', 1, 2};
  m.parts.push_back({"What is this?", nullptr, nullptr});
  m.parts.push_back({"", img, nullptr});
  conv->add_user(m);
  const Reply r = conv->generate({}, CancelToken());
  EXPECT_EQ(r.text, "ABC");
  EXPECT_EQ(r.finish_reason, "length");
  conv->add_user(UserMessage::text_only("more"));
  CancelToken cancel;
  const Reply r2 = conv->generate({}, cancel, [&](std::string_view) {
    cancel.cancel();
    return true;
  });
  EXPECT_EQ(r2.text, "A");
  EXPECT_EQ(r2.finish_reason, "cancelled");
  ASSERT_EQ(requests.size(), 2u);
  const json& q = requests[1];
  EXPECT_EQ(q["model"], "m");
  EXPECT_EQ(q["stream"], true);
  ASSERT_EQ(q["messages"].size(), 4u);
  EXPECT_EQ(q["messages"][0], json({{"role", "system"}, {"content", "sys"}}));
  EXPECT_EQ(q["messages"][1]["content"][0], json({{"type", "text"}, {"text", "What is this?"}}));
  EXPECT_EQ(q["messages"][1]["content"][1]["image_url"]["url"], "data:image/png;base64,iVBORwEC");
  EXPECT_EQ(q["messages"][2], json({{"role", "assistant"}, {"content", "ABC"}}));
  EXPECT_EQ(q["messages"][3], json({{"role", "user"}, {"content", "more"}}));
}

TEST(Remote, Base64AndEndpoints) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(RemoteEndpoint{.url = "http://h:1/v1/"}.endpoint("audio/speech"), "http://h:1/v1/audio/speech");
  EXPECT_EQ(RemoteEndpoint{.url = "http://h:1"}.endpoint("models"), "http://h:1/v1/models");
  EXPECT_THROW(make_remote_language_model({}), Error);

  Config c;
  c.set_flag("llm.url", "http://h:2");
  c.set_flag("llm.remote_model", "qwen");
  c.set_flag("llm.api_key_env", "OMNI_TEST_REMOTE_KEY");
  ::setenv("OMNI_TEST_REMOTE_KEY", "k42", 1);
  const RemoteEndpoint ep = remote_endpoint_from_config(c, "llm");
  ::unsetenv("OMNI_TEST_REMOTE_KEY");
  EXPECT_EQ(ep.url, "http://h:2");
  EXPECT_EQ(ep.model, "qwen");
  EXPECT_EQ(ep.api_key, "k42");
  EXPECT_EQ(remote_endpoint_from_config(c, "tts").model, "tts-1");
}

asr::Audio tone(int rate, double seconds) {
  asr::Audio a;
  a.sample_rate = rate;
  const int n = static_cast<int>(rate * seconds);
  for (int i = 0; i < n; ++i) a.samples.push_back(0.5f * std::sin(0.05f * static_cast<float>(i)));
  return a;
}

TEST(RemoteStt, SendsWavFormAndReadsText) {
  LocalHttpServer s;
  json seen;
  asr::Audio received;
  s.server().Post("/v1/audio/transcriptions", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != "Bearer key") {
      res.status = 401;
      res.set_content(R"({"error":{"message":"bad key"}})", "application/json");
      return;
    }
    const auto f = req.get_file_value("file");
    const std::vector<uint8_t> bytes(f.content.begin(), f.content.end());
    received = asr::read_wav(bytes, f.filename);
    seen = {{"model", req.get_file_value("model").content},
            {"language", req.get_file_value("language").content},
            {"type", f.content_type}};
    res.set_content(R"({"text":"  hello world \n","language":"english"})", "application/json");
  });
  s.start();
  const asr::Audio audio = tone(16000, 0.5);
  auto stt = make_remote_speech_to_text({.url = s.url(), .model = "whisper-1", .api_key = "key"});
  SttOptions en;
  en.language = "en";
  const SttResult r = stt->transcribe(audio, en, CancelToken());
  EXPECT_EQ(r.text, "hello world");
  EXPECT_EQ(r.language, "english");
  EXPECT_DOUBLE_EQ(r.audio_seconds, 0.5);
  EXPECT_EQ(seen["model"], "whisper-1");
  EXPECT_EQ(seen["language"], "en");
  EXPECT_EQ(seen["type"], "audio/wav");
  ASSERT_EQ(received.samples.size(), audio.samples.size());
  EXPECT_EQ(received.sample_rate, 16000);
  for (size_t i = 0; i < audio.samples.size(); ++i) {
    ASSERT_NEAR(received.samples[i], audio.samples[i], 1.0 / 32768) << i;
  }
  auto bad = make_remote_speech_to_text({.url = s.url(), .api_key = "wrong"});
  try {
    bad->transcribe(audio, {}, CancelToken());
    FAIL();
  } catch (const http::HttpError& e) {
    EXPECT_EQ(e.message(), "bad key");
  }
  CancelToken c;
  c.cancel();
  EXPECT_TRUE(stt->transcribe(audio, {}, c).cancelled);
}

std::string pcm16(const std::vector<int16_t>& s) {
  std::string out(s.size() * 2, '\0');
  std::memcpy(out.data(), s.data(), out.size());
  return out;
}

TEST(RemoteTts, StreamsPcmAndWav) {
  LocalHttpServer s;
  std::vector<int16_t> samples;
  for (int i = 0; i < 5001; ++i) samples.push_back(static_cast<int16_t>((i * 37) % 65536 - 32768));
  json seen;
  s.server().Post("/v1/audio/speech", [&](const httplib::Request& req, httplib::Response& res) {
    seen = json::parse(req.body);
    std::string body = pcm16(samples);
    if (seen["response_format"] == "wav") {
      asr::Audio a;
      a.sample_rate = 22050;
      for (int16_t x : samples) a.samples.push_back(static_cast<float>(x) / 32768.0f);
      const auto w = asr::encode_wav(a, asr::WavEncoding::kPcm16);
      body.assign(w.begin(), w.end());
    }
    // Odd-sized blocks: samples straddle the chunk boundaries.
    res.set_chunked_content_provider("audio/pcm", [body](size_t off, httplib::DataSink& sink) {
      if (off >= body.size()) {
        sink.done();
        return true;
      }
      return sink.write(body.data() + off, std::min<size_t>(333, body.size() - off));
    });
  });
  s.start();
  for (const std::string format : {"pcm", "wav"}) {
    auto tts = make_remote_text_to_speech({.url = s.url(), .model = "tts-1"}, {.format = format});
    std::vector<float> got;
    int chunks = 0;
    bool ended = false;
    int rate = 0;
    EXPECT_TRUE(tts->synthesize("Hello.", {.voice = "nova"}, CancelToken(), [&](const AudioChunk& c) {
      got.insert(got.end(), c.samples.begin(), c.samples.end());
      ++chunks;
      ended = c.end_of_text;
      rate = c.sample_rate;
      return true;
    }));
    EXPECT_EQ(seen["input"], "Hello.");
    EXPECT_EQ(seen["voice"], "nova");
    EXPECT_EQ(seen["response_format"], format);
    EXPECT_TRUE(ended);
    EXPECT_GT(chunks, 3);
    EXPECT_EQ(rate, format == "wav" ? 22050 : 24000);
    EXPECT_EQ(tts->sample_rate(), rate);
    ASSERT_EQ(got.size(), samples.size()) << format;
    for (size_t i = 0; i < samples.size(); ++i) {
      ASSERT_EQ(got[i], static_cast<float>(samples[i]) / 32768.0f) << format << " " << i;
    }
    // on_audio saying stop ends synthesis early.
    int calls = 0;
    EXPECT_FALSE(tts->synthesize("Hi", {}, CancelToken(), [&](const AudioChunk&) { return ++calls < 2; }));
    EXPECT_EQ(calls, 2);
  }
  EXPECT_THROW(make_remote_text_to_speech({.url = s.url()}, {.format = "mp3"}), Error);
}

}  // namespace
}  // namespace omni::pipeline
