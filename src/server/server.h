// `omni serve`: an OpenAI-compatible HTTP server over one LLM (cpp-httplib underneath).
//   GET /health, GET /v1/models, POST /v1/chat/completions, POST /v1/completions,
//   POST /v1/embeddings, POST /v1/audio/transcriptions, POST /v1/audio/translations,
//   POST /v1/audio/speech, GET /v1/audio/voices, GET /metrics, and the web UI at /.
// Requests run on `parallel` slots (own Context each) behind a bounded queue; streams stop when
// the client goes away; stop() finishes in-flight requests before returning from run().
//
//   Server s(opts);           // loads the model
//   int port = s.bind();      // 0 in opts.port → an ephemeral port
//   s.run();                  // blocks until stop() (from another thread or a signal handler thread)
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace omni::server {

struct ServerOptions {
  std::string model_path;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key = "";  // empty: no auth; else `Authorization: Bearer KEY` on /v1/*
  uint32_t n_ctx = 0;        // per slot; 0: the model's, at most 4096
  int threads = 0;           // compute threads (shared by the slots); 0: all cores
  int parallel = 1;          // slots
  int max_queue = 16;        // requests waiting for a slot before 503
  std::string cors_origin = "";  // empty: no CORS headers
  size_t max_body = 25 << 20;  // bytes (OpenAI's audio upload limit); larger bodies get 413
  int request_timeout_s = 600;  // per request, including the wait for a slot
  int http_threads = 0;      // connection threads; 0: parallel + max_queue + 4
  std::string asr_model_path = "";  // whisper ggml model: /v1/audio/transcriptions, input_audio
  std::string voice_dir = "";       // Piper voices (NAME.onnx + NAME.onnx.json) offered by name
  std::string voice = "";           // default voice: a Piper .onnx file or an espeak-ng voice
  bool web_ui = true;               // serve the browser UI at /
  // Images (`image_url` parts): with an mmproj whose projector width equals the model's n_embd
  // they go in as embeddings (image_mode auto/embed), otherwise as OCR words in ocr_languages.
  // caption (needs that mmproj too): the model itself describes the image in a separate greedy
  // run and the description goes into the message as text. A request may pick its own with the
  // body field "image_mode": "auto" | "embed" | "caption" | "ocr".
  std::string mmproj_path = "";
  std::string image_mode = "auto";  // auto | embed | caption | ocr
  int caption_max_tokens = 128;     // length limit of a caption (image_mode caption)
  std::string ocr_languages = "eng+kor";
  // `image_url` parts may name http(s) URLs the server downloads (off: only data: URLs).
  bool allow_image_urls = false;
  size_t image_url_max_bytes = 20 << 20;
  int image_url_timeout_s = 10;
  // A response write that cannot progress for this long (a client that stopped reading) fails,
  // which stops the generation or synthesis and frees its slot.
  int write_timeout_s = 30;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // Binds the listening socket; returns the port. Throws omni::Error when it cannot.
  int bind();
  // Serves until stop(); returns after in-flight requests have finished.
  void run();
  // Stops accepting, wakes queued requests (503) and lets running ones finish. Thread-safe.
  void stop();
  // The id under which /v1/models lists the model (the file name without .gguf).
  const std::string& model_id() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace omni::server
