// TextGenerator over /v1/chat/completions with SSE streaming. The server keeps no state: the
// system prompt and every earlier turn go out with each request.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "pipeline/http_client.h"
#include "pipeline/remote.h"
#include "pipeline/sse.h"

namespace omni::pipeline {
namespace {

using nlohmann::json;

std::string sniff_mime(const ImageInput& img) {
  if (!img.mime.empty()) return img.mime;
  const auto& b = img.bytes;
  auto starts = [&](std::string_view m) {
    return b.size() >= m.size() && std::equal(m.begin(), m.end(), b.begin(),
                                              [](char c, uint8_t u) { return static_cast<uint8_t>(c) == u; });
  };
  if (starts("\x89PNG")) return "image/png";
  if (starts("\xff\xd8\xff")) return "image/jpeg";
  if (starts("GIF8")) return "image/gif";
  if (starts("BM")) return "image/bmp";
  if (b.size() >= 12 && starts("RIFF") && std::string_view(reinterpret_cast<const char*>(b.data()) + 8, 4) == "WEBP") {
    return "image/webp";
  }
  return "application/octet-stream";
}

class RemoteTextGenerator : public TextGenerator {
 public:
  RemoteTextGenerator(RemoteEndpoint ep, std::string system_prompt)
      : ep_(std::move(ep)), system_(std::move(system_prompt)) {}

  std::string name() const override { return "remote:" + ep_.model + "@" + ep_.url; }
  bool supports_images() const override { return true; }

  void add_user(const UserMessage& message) override {
    if (!message.has_images()) {
      history_.push_back({{"role", "user"}, {"content", message.joined_text()}});
      return;
    }
    json parts = json::array();
    for (const auto& p : message.parts) {
      if (p.image) {
        const std::string_view bytes(reinterpret_cast<const char*>(p.image->bytes.data()),
                                     p.image->bytes.size());
        parts.push_back({{"type", "image_url"},
                         {"image_url", {{"url", "data:" + sniff_mime(*p.image) + ";base64," +
                                                    base64_encode(bytes)}}}});
      } else {
        parts.push_back({{"type", "text"}, {"text", p.text}});
      }
    }
    history_.push_back({{"role", "user"}, {"content", parts}});
  }

  Reply generate(const GenOptions& o, const CancelToken& cancel, const OnText& on_text) override {
    json messages = json::array();
    if (!system_.empty()) messages.push_back({{"role", "system"}, {"content", system_}});
    for (const auto& m : history_) messages.push_back(m);
    json body = {{"messages", messages}, {"stream", true}, {"max_tokens", o.max_tokens},
                 {"temperature", o.temperature}, {"top_p", o.top_p},
                 {"stream_options", {{"include_usage", true}}}};
    if (!ep_.model.empty()) body["model"] = ep_.model;
    if (o.top_k > 0) body["top_k"] = o.top_k;  // an extension llama.cpp and vLLM understand
    if (o.seed != 0) body["seed"] = o.seed;
    if (!o.stop.empty()) body["stop"] = o.stop;

    Reply reply;
    bool stopped_by_callback = false;
    http::Request req;
    req.method = "POST";
    req.url = ep_.endpoint("chat/completions");
    req.json(body.dump()).bearer(ep_.api_key);
    req.header("Accept", "text/event-stream");
    req.connect_timeout_ms = ep_.connect_timeout_ms;
    req.timeout_ms = ep_.timeout_ms;
    req.cancelled = [&] { return stopped_by_callback || cancel.cancelled(); };
    const auto t0 = Clock::now();
    bool first = true;
    http::SseParser sse;
    const auto on_event = [&](const http::SseEvent& e) {
      if (e.done() || stopped_by_callback) return;
      const json j = json::parse(e.data, nullptr, false);
      if (!j.is_object()) throw FormatError(req.url + ": stream event is not JSON: " + e.data.substr(0, 80));
      if (j.contains("error")) {
        throw Error(req.url + ": server error in stream: " + http::error_message_from_body(e.data));
      }
      if (const auto u = j.find("usage"); u != j.end() && u->is_object()) {
        reply.stats.prompt_tokens = u->value("prompt_tokens", 0);
        reply.stats.generated_tokens = u->value("completion_tokens", 0);
        if (const auto d = u->find("prompt_tokens_details"); d != u->end() && d->is_object()) {
          reply.stats.reused_tokens = d->value("cached_tokens", 0);
        }
      }
      const auto ch = j.find("choices");
      if (ch == j.end() || !ch->is_array() || ch->empty()) return;
      const json& c0 = (*ch)[0];
      if (const auto fr = c0.find("finish_reason"); fr != c0.end() && fr->is_string()) {
        reply.finish_reason = fr->get<std::string>();
      }
      const auto delta = c0.find("delta");
      if (delta == c0.end() || !delta->is_object()) return;
      const auto content = delta->find("content");
      if (content == delta->end() || !content->is_string()) return;
      const std::string piece = content->get<std::string>();
      if (piece.empty()) return;
      if (first) {
        reply.stats.prompt_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        first = false;
      }
      reply.text += piece;
      if (on_text && !on_text(piece)) stopped_by_callback = true;
    };
    try {
      http::perform(req, [&](std::string_view chunk) { sse.feed(chunk, on_event); });
      sse.finish(on_event);
    } catch (const http::Cancelled&) {
      reply.finish_reason = "cancelled";
    }
    if (stopped_by_callback || cancel.cancelled()) reply.finish_reason = "cancelled";
    if (reply.finish_reason.empty()) reply.finish_reason = "stop";
    reply.stats.generate_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count() -
                              reply.stats.prompt_ms;
    history_.push_back({{"role", "assistant"}, {"content", reply.text}});
    return reply;
  }

  void reset() override { history_.clear(); }

  struct Snapshot : ConversationSnapshot {
    size_t size = 0;
  };
  std::unique_ptr<ConversationSnapshot> snapshot() const override {
    auto s = std::make_unique<Snapshot>();
    s->size = history_.size();
    return s;
  }
  void restore(const ConversationSnapshot& snap) override {
    const auto* s = dynamic_cast<const Snapshot*>(&snap);
    if (!s || s->size > history_.size()) throw Error("remote conversation: foreign snapshot");
    history_.resize(s->size);
  }

 private:
  RemoteEndpoint ep_;
  std::string system_;
  std::vector<json> history_;
};

class RemoteLanguageModel : public LanguageModel {
 public:
  explicit RemoteLanguageModel(RemoteEndpoint ep) : ep_(std::move(ep)) {}
  std::string name() const override { return "remote:" + ep_.model + "@" + ep_.url; }
  std::unique_ptr<TextGenerator> start_conversation(const std::string& system_prompt) override {
    return std::make_unique<RemoteTextGenerator>(ep_, system_prompt);
  }

 private:
  RemoteEndpoint ep_;
};

}  // namespace

std::unique_ptr<LanguageModel> make_remote_language_model(RemoteEndpoint endpoint) {
  if (endpoint.url.empty()) throw Error("remote LLM: no url configured (llm.url)");
  return std::make_unique<RemoteLanguageModel>(std::move(endpoint));
}

}  // namespace omni::pipeline
