#include "pipeline/http_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "pipeline/sse.h"
#include "testing/local_http.h"

namespace omni::http {
namespace {

using testing::LocalHttpServer;

TEST(HttpClient, GetPostHeadersAndJson) {
  LocalHttpServer s;
  s.server().Get("/hello", [](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Echo", req.get_header_value("X-Test"));
    res.set_content("hi " + req.get_header_value("Authorization"), "text/plain");
  });
  s.server().Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(req.get_header_value("Content-Type") + "|" + req.body, "text/plain");
  });
  s.start();
  Request g;
  g.url = s.url("/hello");
  g.header("X-Test", "abc").bearer("k1");
  Response r = perform(g);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hi Bearer k1");
  ASSERT_NE(r.header("x-echo"), nullptr);
  EXPECT_EQ(*r.header("x-echo"), "abc");

  Request p;
  p.method = "POST";
  p.url = s.url("/echo");
  p.json(R"({"a":1})");
  EXPECT_EQ(perform(p).body, R"(application/json|{"a":1})");
}

TEST(HttpClient, MultipartForm) {
  LocalHttpServer s;
  s.server().Post("/up", [](const httplib::Request& req, httplib::Response& res) {
    ASSERT_TRUE(req.has_file("file"));
    const auto f = req.get_file_value("file");
    const auto m = req.get_file_value("model");
    res.set_content(f.filename + "|" + f.content_type + "|" + std::to_string(f.content.size()) +
                        "|" + m.content,
                    "text/plain");
  });
  s.start();
  Request r;
  r.method = "POST";
  r.url = s.url("/up");
  std::string bytes(1000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i);
  r.form = {{"file", bytes, "a.wav", "audio/wav"}, {"model", "whisper-1", "", ""}};
  EXPECT_EQ(perform(r).body, "a.wav|audio/wav|1000|whisper-1");
}

TEST(HttpClient, StreamsChunksBeforeTheEnd) {
  LocalHttpServer s;
  std::atomic<bool> client_saw_first{false};
  s.server().Get("/stream", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/event-stream", [&](size_t, httplib::DataSink& sink) {
      const std::string a = "data: one\n\n";
      sink.write(a.data(), a.size());
      // The second event is only sent once the client has seen the first: streaming, not buffering.
      for (int i = 0; i < 5000 && !client_saw_first; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      const std::string b = "data: two\n\ndata: [DONE]\n\n";
      sink.write(b.data(), b.size());
      sink.done();
      return true;
    });
  });
  s.start();
  Request r;
  r.url = s.url("/stream");
  SseParser parser;
  std::vector<std::string> got;
  perform(r, [&](std::string_view chunk) {
    parser.feed(chunk, [&](const SseEvent& e) {
      got.push_back(e.data);
      client_saw_first = true;
    });
  });
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two", "[DONE]"}));
  EXPECT_TRUE(client_saw_first);
}

TEST(HttpClient, ErrorStatusCarriesOpenAiMessage) {
  LocalHttpServer s;
  s.server().Post("/v1/chat/completions", [](const httplib::Request&, httplib::Response& res) {
    res.status = 400;
    res.set_content(R"({"error":{"message":"model 'x' not found","type":"invalid_request_error"}})",
                    "application/json");
  });
  s.server().Get("/plain", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_content("overloaded\n", "text/plain");
  });
  s.start();
  Request r;
  r.method = "POST";
  r.url = s.url("/v1/chat/completions");
  r.json("{}");
  bool called = false;
  try {
    perform(r, [&](std::string_view) { called = true; });
    FAIL();
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.message(), "model 'x' not found");
    EXPECT_NE(std::string(e.what()).find("HTTP 400: model 'x' not found"), std::string::npos);
  }
  EXPECT_FALSE(called);  // error bodies never reach the stream callback
  Request g;
  g.url = s.url("/plain");
  try {
    perform(g);
    FAIL();
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 503);
    EXPECT_EQ(e.message(), "overloaded");
  }
  g.url = s.url("/missing");
  EXPECT_THROW(perform(g), HttpError);
}

TEST(HttpClient, ConnectionRefusedIsAClearError) {
  int port;
  {
    LocalHttpServer s;
    s.start();
    port = s.port();
  }  // closed: nothing listens there now
  Request r;
  r.url = "http://127.0.0.1:" + std::to_string(port) + "/v1/models";
  try {
    perform(r);
    FAIL();
  } catch (const HttpError&) {
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(r.url), std::string::npos) << e.what();
  }
}

TEST(HttpClient, CancelStopsAStream) {
  LocalHttpServer s;
  std::atomic<bool> server_done{false};
  s.server().Get("/forever", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/plain", [&](size_t, httplib::DataSink& sink) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      const std::string x = "x";
      return sink.write(x.data(), x.size());  // false once the client has gone
    }, [&](bool) { server_done = true; });
  });
  s.start();
  std::atomic<bool> cancel{false};
  Request r;
  r.url = s.url("/forever");
  r.cancelled = [&] { return cancel.load(); };
  size_t bytes = 0;
  EXPECT_THROW(perform(r, [&](std::string_view c) {
    bytes += c.size();
    if (bytes >= 3) cancel = true;
  }), Cancelled);
  EXPECT_GE(bytes, 3u);
}

TEST(HttpClient, TimeoutAndCallbackExceptions) {
  LocalHttpServer s;
  s.server().Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    res.set_content("late", "text/plain");
  });
  s.server().Get("/data", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("abc", "text/plain");
  });
  s.start();
  Request r;
  r.url = s.url("/slow");
  r.timeout_ms = 100;
  try {
    perform(r);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
  }
  Request d;
  d.url = s.url("/data");
  EXPECT_THROW(perform(d, [](std::string_view) { throw FormatError("bad chunk"); }), FormatError);
  int status = 0;
  perform(d, [](std::string_view) {}, [&](const Response& resp) { status = static_cast<int>(resp.status); });
  EXPECT_EQ(status, 200);
}

TEST(HttpClient, ErrorMessageFromBody) {
  EXPECT_EQ(error_message_from_body(R"({"error":{"message":"m"}})"), "m");
  EXPECT_EQ(error_message_from_body(R"({"error":"plain"})"), "plain");
  EXPECT_EQ(error_message_from_body(R"({"detail":1})"), R"({"detail":1})");
  EXPECT_EQ(error_message_from_body("  Not Found\r\n"), "Not Found");
  EXPECT_EQ(error_message_from_body(std::string(500, 'a')).size(), 200u);
}

}  // namespace
}  // namespace omni::http
