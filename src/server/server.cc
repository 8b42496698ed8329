#include "server/server.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <sys/socket.h>
#include <ctime>
#include <random>
#include <thread>

#include "core/error.h"
#include "core/thread_pool.h"
#include "llm/chat_prompt.h"
#include "llm/chat_template.h"
#include "llm/generate.h"
#include "llm/model.h"
#include "pipeline/local_ocr.h"
#include "server/metrics.h"
#include "server/openai.h"
#include "server/slots.h"
#include "server/base64.h"
#include "server/server_impl.h"

namespace omni::server {

using nlohmann::json;

namespace {

// Start of the request the current connection thread is serving (pre-routing → logger).
thread_local Clock::time_point t_request_start;

std::string endpoint_label(const std::string& path) {
  static const char* const kKnown[] = {
      "/health", "/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings",
      "/metrics", "/v1/audio/transcriptions", "/v1/audio/translations", "/v1/audio/speech",
      "/v1/audio/voices"};
  for (const char* k : kKnown) {
    if (path == k) return k;
  }
  if (path.starts_with("/v1/models/")) return "/v1/models/{id}";
  if (!path.starts_with("/v1/")) return "web";
  return "other";
}

std::string basename_no_gguf(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  if (name.size() > 5 && name.ends_with(".gguf")) name.resize(name.size() - 5);
  return name;
}

}  // namespace


void Server::Impl::check_model(const json& req) const {
  const std::string m = require_string(req, "model");
  if (m != id && m != "omni") {
    throw ApiError(404, "The model '" + m + "' does not exist or you do not have access to it.",
                   "model", "model_not_found");
  }
}

std::unique_ptr<SlotLease> Server::Impl::acquire(std::span<const int32_t> prompt,
                                                 Clock::time_point deadline) {
  std::unique_ptr<SlotLease> lease;
  switch (slots->acquire(prompt, deadline, lease)) {
    case AcquireStatus::kOk: return lease;
    case AcquireStatus::kQueueFull:
      throw ApiError(429, "The server is busy: too many requests are waiting. Retry later.", "",
                     "queue_full", "rate_limit_error");
    case AcquireStatus::kTimeout:
      throw ApiError(503, "Timed out waiting for a free model slot. Retry later.", "", "timeout",
                     "server_overloaded_error");
    case AcquireStatus::kShuttingDown:
      throw ApiError(503, "The server is shutting down.", "", "shutting_down", "server_error");
  }
  throw ApiError(500, "slot acquisition failed");
}

std::vector<int32_t> Server::Impl::tokenize_prompt(const std::string& text, bool parse_special) const {
  const llm::Vocab& v = model->vocab();
  // Text that already starts with the BOS token (templates that write it) gets no second one.
  bool add_special = true;
  if (v.add_bos() && v.bos() != llm::kNoToken && text.starts_with(v.token_text(v.bos()))) add_special = false;
  return checked_prompt(v.tokenize(text, add_special, parse_special));
}

std::vector<int32_t> Server::Impl::checked_prompt(std::vector<int32_t> tokens) const {
  if (tokens.empty()) throw ApiError(400, "The prompt is empty.", "prompt", "invalid_value");
  if (tokens.size() >= slots->n_ctx()) {
    throw ApiError(400, "This model's maximum context length is " + std::to_string(slots->n_ctx()) +
                            " tokens. However, your prompt has " + std::to_string(tokens.size()) +
                            " tokens.", "messages", "context_length_exceeded");
  }
  return tokens;
}

void Server::Impl::chat_completions(const httplib::Request& req, httplib::Response& res) {
  const auto deadline = Clock::now() + std::chrono::seconds(o.request_timeout_s);
  const json body = parse_body(req.body);
  check_model(body);
  auto params = parse_completion_params(body, model->vocab().n_tokens(), /*chat=*/true);
  AudioOut audio = parse_audio_output(body);
  if (audio.enabled && params.stream && audio.format != "pcm16") {
    throw ApiError(400, "Streamed audio output needs audio.format 'pcm16'.", "audio.format",
                   "invalid_value");
  }
  // Non-text parts are turned into text (transcripts, OCR words) before the template sees them.
  RequestImages images = request_images(body);
  auto messages = parse_messages(body, [this, &images](const json& part, const std::string& type,
                                                       const std::string& where) {
    return part_to_text(part, type, where, images);
  });
  if (tmpl.empty()) {
    throw ApiError(400, "The model '" + id + "' has no chat template; use /v1/completions.", "model",
                   "no_chat_template");
  }
  const llm::Vocab& v = model->vocab();
  llm::ChatOptions co;
  if (v.bos() != llm::kNoToken) co.bos_token = v.token_text(v.bos());
  if (v.eos() != llm::kNoToken) co.eos_token = v.token_text(v.eos());
  // Message text stays literal (no control tokens from what clients write); template text is
  // parsed for specials.
  llm::GuardedChat chat;
  try {
    chat = llm::render_chat_guarded(v, tmpl, messages, co);
  } catch (const Error& e) {
    throw ApiError(400, std::string("The chat template rejected the messages: ") + e.what(), "messages",
                   "invalid_messages");
  }
  if (!images.images.empty()) {
    llm::Prompt p = media_chat_prompt(chat, images);
    if (p.size() >= slots->n_ctx()) {
      throw ApiError(400, "This model's maximum context length is " + std::to_string(slots->n_ctx()) +
                              " tokens. However, your prompt has " + std::to_string(p.size()) +
                              " tokens (image embeddings included).", "messages", "context_length_exceeded");
    }
    run_generation(res, std::move(p), std::move(params), true, deadline, std::move(audio));
    return;
  }
  run_generation(res, llm::Prompt(checked_prompt(llm::tokenize_chat(v, chat))), std::move(params), true,
                 deadline, std::move(audio));
}

void Server::Impl::completions(const httplib::Request& req, httplib::Response& res) {
  const auto deadline = Clock::now() + std::chrono::seconds(o.request_timeout_s);
  const json body = parse_body(req.body);
  check_model(body);
  std::string prompt;
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) {
    throw ApiError(400, "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
  } else if (it->is_string()) {
    prompt = it->get<std::string>();
  } else if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) {
    prompt = (*it)[0].get<std::string>();
  } else if (it->is_array()) {
    throw ApiError(400, "Only one prompt per request is supported.", "prompt", "invalid_value");
  } else {
    throw ApiError(400, "Invalid type for 'prompt': expected a string.", "prompt", "invalid_type");
  }
  if (prompt.empty()) throw ApiError(400, "The prompt is empty.", "prompt", "invalid_value");
  for (const char* unsupported : {"echo", "suffix", "logprobs", "best_of"}) {
    auto u = body.find(unsupported);
    if (u != body.end() && !u->is_null() && *u != false && *u != 1) {
      throw ApiError(400, std::string("'") + unsupported + "' is not supported by this server.",
                     unsupported, "unsupported_parameter");
    }
  }
  auto params = parse_completion_params(body, model->vocab().n_tokens(), /*chat=*/false);
  run_generation(res, llm::Prompt(tokenize_prompt(prompt, /*parse_special=*/true)), std::move(params), false,
                 deadline, AudioOut{});
}

void Server::Impl::run_generation(httplib::Response& res, llm::Prompt prompt,
                                  CompletionParams params, bool chat, Clock::time_point deadline,
                                  AudioOut audio) {
  std::shared_ptr<SlotLease> lease = acquire(prompt.token_view(), deadline);
  const std::string rid = random_id(chat ? "chatcmpl-" : "cmpl-");
  const std::time_t created = std::time(nullptr);
  const char* object = chat ? "chat.completion" : "text_completion";
  auto usage = [](size_t p, size_t c) {
    return json{{"prompt_tokens", p}, {"completion_tokens", c}, {"total_tokens", p + c}};
  };
  if (!params.stream) {
    // Still sent chunked, so a client that leaves is noticed: while the answer is being made, a
    // space (leading JSON whitespace, which every parser skips) is written every half second,
    // and a failed write stops the generation as it does for streams.
    res.set_chunked_content_provider("application/json", [this, lease, busy = in_flight.token(),
                                                          prompt = std::move(prompt),
                                                          params = std::move(params), chat, deadline,
                                                          rid, created, object, usage,
                                                          audio](size_t, httplib::DataSink& sink) mutable {
      bool timed_out = false, client_gone = false;
      auto last_beat = Clock::now();
      auto on_text = [&](std::string_view) {
        const auto now = Clock::now();
        if (now >= deadline) {
          timed_out = true;
          return false;
        }
        if (now - last_beat >= std::chrono::milliseconds(500)) {
          last_beat = now;
          if (!sink.is_writable() || !sink.write(" ", 1)) {
            client_gone = true;
            return false;
          }
        }
        return true;
      };
      llm::GenerateResult r;
      json choice = {{"index", 0}};
      try {
        const auto t0 = Clock::now();
        r = llm::generate(lease->context(), prompt, params.gen, on_text);
        metrics.record_stage("llm", std::chrono::duration<double>(Clock::now() - t0).count());
        lease.reset();  // the slot is free while the answer is spoken
        metrics.add_tokens(static_cast<int64_t>(prompt.size()), static_cast<int64_t>(r.tokens.size()));
        if (client_gone) {
          metrics.add_cancelled();
          return false;
        }
        if (chat && audio.enabled) {
          // As OpenAI: the text is the audio's transcript and `content` is null.
          const EncodedAudio a = speak_all(r.text, audio.speech, audio.format);
          const auto bytes = std::span(reinterpret_cast<const uint8_t*>(a.bytes.data()), a.bytes.size());
          choice["message"] = {{"role", "assistant"}, {"content", nullptr}, {"refusal", nullptr},
                               {"audio", {{"id", random_id("audio_")},
                                          {"expires_at", std::time(nullptr) + 3600},
                                          {"data", base64_encode(bytes)},
                                          {"transcript", r.text}}}};
        } else if (chat) {
          choice["message"] = {{"role", "assistant"}, {"content", r.text}, {"refusal", nullptr}};
        } else {
          choice["text"] = r.text;
        }
      } catch (const std::exception&) {
        return false;  // the status line is gone: dropping the connection is the only signal left
      }
      choice["logprobs"] = nullptr;
      choice["finish_reason"] = timed_out ? "length" : r.finish_reason;
      const json out = {{"id", rid}, {"object", object}, {"created", created}, {"model", id},
                        {"choices", json::array({choice})},
                        {"usage", usage(prompt.size(), r.tokens.size())},
                        {"system_fingerprint", "omni"}};
      const std::string body = dump(out);
      if (!sink.write(body.data(), body.size())) return false;
      sink.done();
      return true;
    });
    return;
  }
  // Streaming: the whole generation runs inside the content provider, one SSE event per piece.
  const std::string model_id = id;
  Metrics* m = &metrics;
  SpeechEngine* speech_engine = speech.get();
  const std::string audio_id = random_id("audio_");
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [lease, busy = in_flight.token(), prompt = std::move(prompt), params = std::move(params), chat,
       deadline, rid, created, model_id, m, usage, audio, speech_engine,
       audio_id](size_t, httplib::DataSink& sink) mutable {
        auto chunk = [&](const json& delta_or_text, const json& finish) {
          json choice = {{"index", 0}};
          if (chat) {
            choice["delta"] = delta_or_text;
          } else {
            choice["text"] = delta_or_text;
          }
          choice["logprobs"] = nullptr;
          choice["finish_reason"] = finish;
          json c = {{"id", rid}, {"object", chat ? "chat.completion.chunk" : "text_completion"},
                    {"created", created}, {"model", model_id}, {"system_fingerprint", "omni"},
                    {"choices", json::array({choice})}};
          if (params.include_usage) c["usage"] = nullptr;
          return c;
        };
        auto send = [&](const json& j) {
          const std::string line = "data: " + dump(j) + "\n\n";
          return sink.is_writable() && sink.write(line.data(), line.size());
        };
        bool client_gone = false, timed_out = false;
        if (chat && !send(chunk(json{{"role", "assistant"}, {"content", audio.enabled ? json(nullptr) : json("")}}, nullptr))) {
          client_gone = true;
        }
        // Spoken answers (modalities audio): text goes out as audio.transcript deltas; each
        // finished sentence is synthesised and sent as base64 pcm16 (24 kHz) audio.data.
        std::string unspoken;
        auto speak = [&](const std::string& text) {
          bool ok = true;
          const auto t0 = Clock::now();
          speech_engine->synthesize(text, audio.speech, [&](std::span<const int16_t> pcm) {
            const auto bytes = std::span(reinterpret_cast<const uint8_t*>(pcm.data()), pcm.size() * 2);
            ok = send(chunk(json{{"audio", {{"id", audio_id}, {"data", base64_encode(bytes)}}}}, nullptr));
            return ok;
          });
          m->record_stage("tts", std::chrono::duration<double>(Clock::now() - t0).count());
          return ok;
        };
        llm::GenerateResult r;
        if (!client_gone) {
          try {
            r = llm::generate(lease->context(), prompt, params.gen, [&](std::string_view t) {
              if (Clock::now() >= deadline) {
                timed_out = true;
                return false;
              }
              json piece = chat ? json{{"content", t}} : json(t);
              if (audio.enabled) piece = json{{"audio", {{"id", audio_id}, {"transcript", t}}}};
              if (!send(chunk(piece, nullptr))) {
                client_gone = true;
                return false;
              }
              if (audio.enabled) {
                unspoken += t;
                // Speak every finished sentence now; keep the unfinished tail.
                auto sentences = split_sentences(unspoken);
                const bool tail_open = !unspoken.empty() && !ends_sentence(unspoken);
                if (sentences.size() > (tail_open ? 1u : 0u)) {
                  std::string done;
                  for (size_t k = 0; k + (tail_open ? 1 : 0) < sentences.size(); ++k) done += sentences[k] + " ";
                  unspoken = tail_open ? sentences.back() : "";
                  if (!speak(done)) {
                    client_gone = true;
                    return false;
                  }
                }
              }
              return true;
            });
            if (audio.enabled && !client_gone && !unspoken.empty() && !speak(unspoken)) client_gone = true;
          } catch (const std::exception& e) {
            // Headers are gone already: report in-band, as OpenAI does for mid-stream failures.
            send(json::parse(error_body(ApiError(500, e.what()))));
            sink.done();
            return true;
          }
        }
        m->add_tokens(static_cast<int64_t>(prompt.size()), static_cast<int64_t>(r.tokens.size()));
        if (client_gone) {
          m->add_cancelled();
          return false;  // drops the connection
        }
        const std::string finish = timed_out ? "length" : r.finish_reason;
        if (audio.enabled &&
            !send(chunk(json{{"audio", {{"id", audio_id}, {"expires_at", std::time(nullptr) + 3600}}}}, nullptr))) {
          return false;
        }
        if (!send(chunk(chat ? json::object() : json(""), finish))) return false;
        if (params.include_usage) {
          json u = {{"id", rid}, {"object", chat ? "chat.completion.chunk" : "text_completion"},
                    {"created", created}, {"model", model_id}, {"system_fingerprint", "omni"},
                    {"choices", json::array()}, {"usage", usage(prompt.size(), r.tokens.size())}};
          if (!send(u)) return false;
        }
        static const std::string kDone = "data: [DONE]\n\n";
        if (!sink.write(kDone.data(), kDone.size())) return false;
        sink.done();
        return true;
      });
}

void Server::Impl::embeddings(const httplib::Request& req, httplib::Response& res) {
  const auto deadline = Clock::now() + std::chrono::seconds(o.request_timeout_s);
  const json body = parse_body(req.body);
  check_model(body);
  const auto inputs = parse_embedding_input(body);
  std::vector<std::vector<int32_t>> tokens;
  size_t total = 0;
  for (const auto& s : inputs) {
    tokens.push_back(tokenize_prompt(s, /*parse_special=*/false));
    total += tokens.back().size();
  }
  auto lease = acquire({}, deadline);
  json data = json::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (Clock::now() >= deadline) throw ApiError(504, "The request timed out.", "", "timeout");
    auto e = lease->context().embed(tokens[i], llm::Pooling::kMean);
    // Unit length, like OpenAI's embeddings (cosine similarity is then a dot product).
    double norm = 0;
    for (float x : e) norm += double{x} * x;
    norm = std::sqrt(norm);
    if (norm > 0) {
      for (float& x : e) x = static_cast<float>(x / norm);
    }
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", e}});
  }
  metrics.add_tokens(static_cast<int64_t>(total), 0);
  json out = {{"object", "list"}, {"data", data}, {"model", id},
              {"usage", {{"prompt_tokens", total}, {"total_tokens", total}}}};
  res.set_content(dump(out), "application/json");
}

void Server::Impl::setup_routes() {
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    t_request_start = Clock::now();
    if (o.api_key.empty() || req.method == "OPTIONS" || !req.path.starts_with("/v1/")) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    const std::string auth = req.get_header_value("Authorization");
    if (auth.empty()) {
      send_error(res, ApiError(401, "You didn't provide an API key. You need to provide your API key "
                                    "in an Authorization header using Bearer auth (i.e. "
                                    "Authorization: Bearer YOUR_KEY).", "", "missing_api_key"));
    } else if (auth != "Bearer " + o.api_key) {
      send_error(res, ApiError(401, "Incorrect API key provided.", "", "invalid_api_key"));
    } else {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    // The body was not read: the connection cannot carry another request.
    res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  });
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    const double s = std::chrono::duration<double>(Clock::now() - t_request_start).count();
    metrics.record_request(endpoint_label(req.path), res.status, s);
  });
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 413) {
      send_error(res, ApiError(413, "The request body is larger than " + std::to_string(o.max_body) +
                                        " bytes.", "", "request_too_large"));
    } else if (res.status == 404) {
      send_error(res, ApiError(404, "Unknown request URL: " + req.method + " " + req.path + ".", "",
                               "unknown_url"));
    } else {
      send_error(res, ApiError(res.status, "HTTP error " + std::to_string(res.status) + "."));
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, ApiError(500, "internal error: " + what));
  });
  if (!o.cors_origin.empty()) {
    http.set_default_headers({{"Access-Control-Allow-Origin", o.cors_origin},
                              {"Access-Control-Allow-Headers", "Authorization, Content-Type"},
                              {"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
                              {"Vary", "Origin"}});
    http.Options(R"(/.*)", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  }

  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (stopping) {
      send_error(res, ApiError(503, "The server is shutting down.", "", "shutting_down", "server_error"));
      return;
    }
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  auto model_json = [this] {
    return json{{"id", id}, {"object", "model"}, {"created", created_at}, {"owned_by", "omni"}};
  };
  http.Get("/v1/models", [this, model_json](const httplib::Request&, httplib::Response& res) {
    json data = json::array({model_json()});
    if (asr) data.push_back({{"id", asr->id()}, {"object", "model"}, {"created", created_at}, {"owned_by", "omni"}});
    res.set_content(dump(json{{"object", "list"}, {"data", data}}), "application/json");
  });
  http.Get(R"(/v1/models/(.+))", [this, model_json](const httplib::Request& req, httplib::Response& res) {
    const std::string m = req.matches[1];
    if (asr && m == asr->id()) {
      res.set_content(dump(json{{"id", m}, {"object", "model"}, {"created", created_at}, {"owned_by", "omni"}}),
                      "application/json");
      return;
    }
    if (m != id && m != "omni") {
      send_error(res, ApiError(404, "The model '" + m + "' does not exist or you do not have access to it.",
                               "model", "model_not_found"));
      return;
    }
    res.set_content(dump(model_json()), "application/json");
  });
  http.Post("/v1/chat/completions", guarded([this](const auto& q, auto& r) { chat_completions(q, r); }));
  http.Post("/v1/completions", guarded([this](const auto& q, auto& r) { completions(q, r); }));
  http.Post("/v1/embeddings", guarded([this](const auto& q, auto& r) { embeddings(q, r); }));
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.render(), "text/plain; version=0.0.4");
  });
  setup_audio_routes();
  if (o.web_ui) setup_web_routes();
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  // A client that leaves mid-response must fail the write, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  Impl& s = *impl_;
  if (s.o.parallel < 1) throw Error("serve: --parallel must be at least 1");
  if (s.o.max_queue < 0) throw Error("serve: the queue size must not be negative");
  if (s.o.write_timeout_s < 1) throw Error("serve: the write timeout must be at least 1 s");
  s.model = llm::Model::load(s.o.model_path);
  s.id = basename_no_gguf(s.o.model_path);
  s.tmpl = s.model->file().get_string("tokenizer.chat_template").value_or("");
  s.created_at = std::time(nullptr);
  s.pool = std::make_unique<ThreadPool>(s.o.threads);
  if (!s.o.asr_model_path.empty()) s.asr = std::make_unique<AsrEngine>(s.o.asr_model_path, s.o.threads);
  s.speech = std::make_unique<SpeechEngine>(s.o.voice_dir, s.o.voice);
  // Images reach the LLM as embeddings when an mmproj that fits it is given, and as words (OCR,
  // when Tesseract's language data is installed) otherwise or when a request asks.
  if (!s.o.mmproj_path.empty()) {
    s.image_encoder = std::make_unique<pipeline::ClipImageEncoder>(s.o.mmproj_path, s.pool.get());
  }
  {
    const int proj = s.image_encoder ? s.image_encoder->n_embd_out() : 0;
    const int n_embd = static_cast<int>(s.model->config().n_embd);
    s.image_mode = pipeline::resolve_image_mode(pipeline::parse_image_mode(s.o.image_mode), proj, n_embd);
    if (s.image_encoder && proj != n_embd) {
      std::fprintf(stderr, "serve: %s projects to %d values, the model's n_embd is %d: images go in as "
                           "OCR words\n", s.o.mmproj_path.c_str(), proj, n_embd);
      s.image_encoder.reset();
    }
  }
  if (!s.o.ocr_languages.empty()) {
    try {
      auto reader = std::make_shared<pipeline::OcrImageReader>(s.o.ocr_languages);
      s.image_to_text = [reader](std::span<const uint8_t> bytes, const std::string& mime) {
        pipeline::ImageInput in;
        in.bytes.assign(bytes.begin(), bytes.end());
        in.mime = mime;
        in.source = "image_url";
        return reader->describe(in, pipeline::CancelToken()).text;
      };
    } catch (const Error& e) {
      std::fprintf(stderr, "serve: image input disabled: %s\n", e.what());
    }
  }
  s.slots = std::make_unique<SlotPool>(s.model, static_cast<size_t>(s.o.parallel),
                                       static_cast<size_t>(s.o.max_queue),
                                       llm::ContextOptions{.n_ctx = s.o.n_ctx, .pool = s.pool.get()},
                                       &s.metrics);
  const size_t http_threads = s.o.http_threads > 0
                                  ? static_cast<size_t>(s.o.http_threads)
                                  : static_cast<size_t>(s.o.parallel + s.o.max_queue + 4);
  s.http.new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };
  s.http.set_payload_max_length(s.o.max_body);
  s.http.set_read_timeout(30);
  s.http.set_write_timeout(s.o.write_timeout_s);
  s.http.set_keep_alive_timeout(2);
  // Remember the listening socket (the options hook sees it before bind) to widen its backlog.
  s.http.set_socket_options([&s](socket_t sock) {
    httplib::default_socket_options(sock);
    if (s.listen_fd < 0) s.listen_fd = sock;
  });
  s.setup_routes();
}

Server::~Server() {
  stop();
}

int Server::bind() {
  Impl& s = *impl_;
  const int port = s.o.port == 0 ? s.http.bind_to_any_port(s.o.host) :
                                   (s.http.bind_to_port(s.o.host, s.o.port) ? s.o.port : -1);
  if (port <= 0) {
    throw Error("serve: cannot listen on " + s.o.host + ":" + std::to_string(s.o.port));
  }
  // cpp-httplib 0.11 listens with a backlog of 5: a burst of new connections (64 clients
  // without keep-alive) overflows it and clients see resets. listen() again only resizes it.
  if (s.listen_fd >= 0) ::listen(s.listen_fd, SOMAXCONN);
  return port;
}

void Server::run() {
  Impl& s = *impl_;
  s.run_started = true;
  if (!s.stopping) s.http.listen_after_bind();
  s.run_done = true;
}

void Server::stop() {
  Impl& s = *impl_;
  s.stopping = true;
  s.slots->shutdown();
  // Let every accepted response finish its body first: once stopped, httplib would not start
  // (or continue) the chunked providers of requests it has already answered with headers.
  // Bounded by the longest a request may take.
  s.in_flight.wait_idle(Clock::now() + std::chrono::seconds(s.o.request_timeout_s + s.o.write_timeout_s));
  // listen_after_bind may not have flagged itself running yet; stop() would then be lost.
  while (s.run_started && !s.run_done && !s.http.is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  s.http.stop();
}

const std::string& Server::model_id() const { return impl_->id; }

}  // namespace omni::server
