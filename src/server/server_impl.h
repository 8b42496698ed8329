// The server's shared state, split across server.cc (routing, LLM endpoints), server_audio.cc
// (speech endpoints) and server_chat.cc (content parts, spoken answers). Internal header.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/thread_pool.h"
#include "llm/chat_prompt.h"
#include "llm/media_prompt.h"
#include "llm/model.h"
#include "llm/prompt.h"
#include "pipeline/local_image_encoder.h"
#include "server/metrics.h"
#include "server/openai.h"
#include "server/server.h"
#include "server/slots.h"
#include "server/speech.h"
#include "server/transcription.h"

namespace omni::server {

using Clock = std::chrono::steady_clock;

inline std::string random_id(const char* prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char kHex[] = "0123456789abcdef";
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id += kHex[rng() & 15];
  return id;
}

inline std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(error_body(e), "application/json");
}

// A route handler whose errors become OpenAI-style error answers.
template <class Fn>
httplib::Server::Handler guarded(Fn fn) {
  return [fn](const httplib::Request& req, httplib::Response& res) {
    try {
      fn(req, res);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const Error& e) {
      send_error(res, ApiError(400, e.what()));
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, std::string("internal error: ") + e.what()));
    }
  };
}

// Counts responses whose body is still to be produced by a chunked content provider. httplib
// calls a provider only after the handler has returned, and stops calling providers once the
// server is stopped, so a graceful stop must wait for these before it stops the listener. Each
// provider captures a token; the count drops when httplib destroys the provider (body written,
// client gone, or never started).
class InFlight {
 public:
  std::shared_ptr<void> token() {
    {
      std::lock_guard lock(mu_);
      ++n_;
    }
    return std::shared_ptr<void>(nullptr, [this](void*) {
      {
        std::lock_guard lock(mu_);
        --n_;
      }
      cv_.notify_all();
    });
  }
  // True if every response finished before `deadline`.
  bool wait_idle(Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t n_ = 0;
};

// Encoded audio of a spoken answer.
struct EncodedAudio {
  std::string bytes;
  std::string content_type;
};

struct Server::Impl {
  explicit Impl(ServerOptions opts) : o(std::move(opts)) {}

  ServerOptions o;
  std::shared_ptr<const llm::Model> model;
  std::unique_ptr<ThreadPool> pool;
  Metrics metrics;
  std::unique_ptr<SlotPool> slots;
  std::unique_ptr<AsrEngine> asr;       // null without --asr-model
  std::unique_ptr<SpeechEngine> speech;
  // Image → text for `image_url` parts (the words path); null until the build has one.
  std::function<std::string(std::span<const uint8_t> bytes, const std::string& mime)> image_to_text;
  // The embeddings path (--mmproj), null without one or when it does not fit the model.
  std::unique_ptr<pipeline::ClipImageEncoder> image_encoder;
  pipeline::ImageMode image_mode = pipeline::ImageMode::kOcr;  // the resolved server default
  httplib::Server http;
  std::string id;
  std::string tmpl;
  std::time_t created_at = 0;
  std::atomic<bool> stopping{false}, run_started{false}, run_done{false};
  InFlight in_flight;  // chunked responses not yet written (see InFlight)
  int listen_fd = -1;

  void setup_routes();
  void setup_audio_routes();
  void setup_web_routes();
  void check_model(const nlohmann::json& req) const;
  std::unique_ptr<SlotLease> acquire(std::span<const int32_t> prompt, Clock::time_point deadline);
  std::vector<int32_t> tokenize_prompt(const std::string& text, bool parse_special) const;
  std::vector<int32_t> checked_prompt(std::vector<int32_t> tokens) const;
  void chat_completions(const httplib::Request& req, httplib::Response& res);
  void completions(const httplib::Request& req, httplib::Response& res);
  void embeddings(const httplib::Request& req, httplib::Response& res);
  void transcriptions(const httplib::Request& req, httplib::Response& res, bool translate);
  void speech_endpoint(const httplib::Request& req, httplib::Response& res);
  // Runs one generation, non-streamed (JSON body) or streamed (SSE). `chat` picks the shapes;
  // `audio` (chat only) asks for a spoken answer too.
  struct AudioOut {
    bool enabled = false;
    SpeechRequest speech;
    std::string format;  // wav, pcm16, flac, mp3, opus
  };
  void run_generation(httplib::Response& res, llm::Prompt prompt, CompletionParams params,
                      bool chat, Clock::time_point deadline, AudioOut audio);

  // Images of one chat request on the embeddings path, in message order.
  struct RequestImages {
    pipeline::ImageMode mode = pipeline::ImageMode::kOcr;  // embed or ocr
    std::vector<llm::ImageEmbeddings> images;
    llm::ImageLayout layout = llm::ImageLayout::kPlain;
  };
  // server_chat.cc: the request's image mode (body field "image_mode", else the server's).
  RequestImages request_images(const nlohmann::json& body) const;
  // server_chat.cc: text for an `image_url` / `input_audio` content part. On the embeddings path
  // an image part becomes llm::kMediaMarker and its embeddings are appended to `images`.
  std::string part_to_text(const nlohmann::json& part, const std::string& type,
                           const std::string& where, RequestImages& images);
  // server_chat.cc: the rendered chat with each marker replaced by its image (model family
  // layout), template text parsed for specials, message text literal.
  llm::Prompt media_chat_prompt(const llm::GuardedChat& chat, const RequestImages& images) const;
  AudioOut parse_audio_output(const nlohmann::json& body) const;
  // The whole of `text` spoken and encoded in `format` (wav, pcm16/pcm, flac, mp3, opus).
  EncodedAudio speak_all(const std::string& text, const SpeechRequest& req, const std::string& format);
  AsrEngine& require_asr(const std::string& what) const;
};

}  // namespace omni::server
