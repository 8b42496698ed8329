#include "server/openai.h"

#include <cmath>
#include <random>

namespace omni::server {

using nlohmann::json;

namespace {

const char* type_for(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "invalid_request_error";
    case 429: return "rate_limit_error";
    case 503: return "server_overloaded_error";
    case 504: return "timeout_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

ApiError bad(const std::string& param, const std::string& msg) {
  return ApiError(400, msg, param, "invalid_value");
}

ApiError wrong_type(const std::string& param, const char* want) {
  return ApiError(400, "Invalid type for '" + param + "': expected " + want + ".", param,
                  "invalid_type");
}

// Optional number field in [lo, hi]; returns false when absent or null.
bool number(const json& req, const char* key, double lo, double hi, double& out) {
  auto it = req.find(key);
  if (it == req.end() || it->is_null()) return false;
  if (!it->is_number()) throw wrong_type(key, "a number");
  out = it->get<double>();
  if (!std::isfinite(out) || out < lo || out > hi) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "Invalid value for '%s': expected a number from %g to %g.", key,
                  lo, hi);
    throw bad(key, buf);
  }
  return true;
}

bool integer(const json& req, const char* key, int64_t lo, int64_t hi, int64_t& out) {
  auto it = req.find(key);
  if (it == req.end() || it->is_null()) return false;
  if (!it->is_number_integer()) throw wrong_type(key, "an integer");
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    out = INT64_MAX;
  } else {
    out = it->get<int64_t>();
  }
  if (out < lo || out > hi) {
    throw bad(key, "Invalid value for '" + std::string(key) + "': " + std::to_string(out) +
                       " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "].");
  }
  return true;
}

bool boolean(const json& req, const char* key) {
  auto it = req.find(key);
  if (it == req.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw wrong_type(key, "a boolean");
  return it->get<bool>();
}

}  // namespace

std::string error_body(const ApiError& e) {
  json err = {{"message", e.what()},
              {"type", e.type.empty() ? type_for(e.status) : e.type},
              {"param", e.param.empty() ? json(nullptr) : json(e.param)},
              {"code", e.code.empty() ? json(nullptr) : json(e.code)}};
  return json{{"error", err}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

json parse_body(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    throw ApiError(400, "We could not parse the JSON body of your request. (HINT: This likely "
                        "means you aren't using your HTTP library correctly.)", "", "invalid_json");
  }
  if (!j.is_object()) throw ApiError(400, "The request body must be a JSON object.", "", "invalid_json");
  return j;
}

std::string require_string(const json& req, const char* key) {
  auto it = req.find(key);
  if (it == req.end() || it->is_null()) {
    throw ApiError(400, "Missing required parameter: '" + std::string(key) + "'.", key,
                   "missing_required_parameter");
  }
  if (!it->is_string()) throw wrong_type(key, "a string");
  return it->get<std::string>();
}

CompletionParams parse_completion_params(const json& req, size_t n_vocab, bool chat) {
  CompletionParams p;
  llm::SamplingParams& s = p.gen.sampling;
  // OpenAI semantics: plain temperature / nucleus sampling, no top-k or min-p cut.
  s.temperature = 1.0f;
  s.top_k = 0;
  s.top_p = 1.0f;
  s.min_p = 0.0f;
  s.repeat_last_n = -1;
  double d = 0;
  if (number(req, "temperature", 0, 2, d)) s.temperature = static_cast<float>(d);
  if (number(req, "top_p", 0, 1, d)) s.top_p = d <= 0 ? 1e-6f : static_cast<float>(d);
  if (number(req, "frequency_penalty", -2, 2, d)) s.frequency_penalty = static_cast<float>(d);
  if (number(req, "presence_penalty", -2, 2, d)) s.presence_penalty = static_cast<float>(d);
  int64_t i = 0;
  p.gen.max_tokens = chat ? 1 << 20 : 16;  // OpenAI: chat runs to the context; completions: 16
  if (integer(req, "max_tokens", 1, INT32_MAX, i)) p.gen.max_tokens = static_cast<int>(i);
  if (chat && integer(req, "max_completion_tokens", 1, INT32_MAX, i)) p.gen.max_tokens = static_cast<int>(i);
  s.seed = std::random_device{}();
  if (integer(req, "seed", INT64_MIN, INT64_MAX, i)) s.seed = static_cast<uint64_t>(i);
  if (integer(req, "n", 1, 128, i) && i != 1) {
    throw bad("n", "Only n=1 is supported by this server.");
  }
  if (auto it = req.find("stop"); it != req.end() && !it->is_null()) {
    if (it->is_string()) {
      if (!it->get<std::string>().empty()) p.gen.stop.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      if (it->size() > 4) throw bad("stop", "Invalid 'stop': at most 4 stop sequences are allowed.");
      for (const auto& e : *it) {
        if (!e.is_string()) throw wrong_type("stop", "a string or an array of strings");
        if (!e.get<std::string>().empty()) p.gen.stop.push_back(e.get<std::string>());
      }
    } else {
      throw wrong_type("stop", "a string or an array of strings");
    }
  }
  if (auto it = req.find("logit_bias"); it != req.end() && !it->is_null()) {
    if (!it->is_object()) throw wrong_type("logit_bias", "an object mapping token ids to numbers");
    for (const auto& [key, value] : it->items()) {
      char* end = nullptr;
      const long long id = std::strtoll(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || id < 0 || static_cast<size_t>(id) >= n_vocab) {
        throw bad("logit_bias", "Invalid key in 'logit_bias': '" + key + "' is not a token id.");
      }
      if (!value.is_number()) throw wrong_type("logit_bias", "numbers as values");
      const double b = value.get<double>();
      if (!(b >= -100 && b <= 100)) throw bad("logit_bias", "Invalid 'logit_bias' value: expected -100 to 100.");
      // OpenAI: -100 bans the token.
      s.logit_bias.emplace_back(static_cast<int32_t>(id),
                                b <= -100 ? -INFINITY : static_cast<float>(b));
    }
  }
  p.stream = boolean(req, "stream");
  if (auto it = req.find("stream_options"); it != req.end() && !it->is_null()) {
    if (!it->is_object()) throw wrong_type("stream_options", "an object");
    if (!p.stream) throw bad("stream_options", "'stream_options' is only allowed when 'stream' is true.");
    p.include_usage = boolean(*it, "include_usage");
  }
  if (auto it = req.find("response_format"); it != req.end() && !it->is_null()) {
    if (!it->is_object()) throw wrong_type("response_format", "an object");
    auto t = it->find("type");
    if (t == it->end() || !t->is_string() || *t != "text") {
      throw bad("response_format", "Only response_format {\"type\": \"text\"} is supported.");
    }
  }
  return p;
}

std::vector<llm::ChatMessage> parse_messages(const json& req, const PartToText& to_text) {
  auto it = req.find("messages");
  if (it == req.end() || it->is_null()) {
    throw ApiError(400, "Missing required parameter: 'messages'.", "messages",
                   "missing_required_parameter");
  }
  if (!it->is_array()) throw wrong_type("messages", "an array");
  if (it->empty()) throw bad("messages", "Invalid 'messages': empty array. Expected at least one message.");
  std::vector<llm::ChatMessage> out;
  for (size_t k = 0; k < it->size(); ++k) {
    const json& m = (*it)[k];
    const std::string where = "messages[" + std::to_string(k) + "]";
    if (!m.is_object()) throw wrong_type(where, "an object");
    llm::ChatMessage cm;
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) {
      throw ApiError(400, "Missing required parameter: '" + where + ".role'.", where + ".role",
                     "missing_required_parameter");
    }
    cm.role = role->get<std::string>();
    if (cm.role == "developer") cm.role = "system";
    if (cm.role != "system" && cm.role != "user" && cm.role != "assistant" && cm.role != "tool") {
      throw bad(where + ".role", "Invalid value for '" + where + ".role': '" + cm.role +
                                     "'. Supported values are: 'system', 'developer', 'user', "
                                     "'assistant' and 'tool'.");
    }
    auto content = m.find("content");
    if (content == m.end() || content->is_null()) {
      if (cm.role != "assistant") {
        throw ApiError(400, "Missing required parameter: '" + where + ".content'.",
                       where + ".content", "missing_required_parameter");
      }
      cm.content = "";
    } else if (content->is_string()) {
      cm.content = content->get<std::string>();
    } else if (content->is_array()) {
      std::string text;
      for (size_t p = 0; p < content->size(); ++p) {
        const json& part = (*content)[p];
        const std::string pw = where + ".content[" + std::to_string(p) + "]";
        if (!part.is_object()) throw wrong_type(pw, "an object");
        auto type = part.find("type");
        if (type == part.end() || !type->is_string()) {
          throw ApiError(400, "Missing required parameter: '" + pw + ".type'.", pw + ".type",
                         "missing_required_parameter");
        }
        std::string piece;
        if (*type == "text") {
          auto t = part.find("text");
          if (t == part.end() || !t->is_string()) throw wrong_type(pw + ".text", "a string");
          piece = t->get<std::string>();
        } else if (to_text && (*type == "image_url" || *type == "input_audio")) {
          piece = to_text(part, type->get<std::string>(), pw);
        } else {
          throw bad(pw + ".type", "Content parts of type '" + type->get<std::string>() +
                                      "' are not supported by this model; use 'text'" +
                                      (to_text ? ", 'image_url' or 'input_audio'." : "."));
        }
        if (piece.empty()) continue;
        if (!text.empty()) text += "\n";
        text += piece;
      }
      cm.content = text;
    } else {
      throw wrong_type(where + ".content", "a string or an array of content parts");
    }
    if (auto name = m.find("name"); name != m.end() && name->is_string()) cm.name = name->get<std::string>();
    out.push_back(std::move(cm));
  }
  return out;
}

std::vector<std::string> parse_embedding_input(const json& req) {
  auto it = req.find("input");
  if (it == req.end() || it->is_null()) {
    throw ApiError(400, "Missing required parameter: 'input'.", "input", "missing_required_parameter");
  }
  std::vector<std::string> out;
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    if (it->empty()) throw bad("input", "Invalid 'input': empty array.");
    if (it->size() > 2048) throw bad("input", "Invalid 'input': at most 2048 inputs.");
    for (const auto& e : *it) {
      if (!e.is_string()) throw wrong_type("input", "a string or an array of strings");
      out.push_back(e.get<std::string>());
    }
  } else {
    throw wrong_type("input", "a string or an array of strings");
  }
  for (const auto& s : out) {
    if (s.empty()) throw bad("input", "Invalid 'input': empty string.");
  }
  if (auto f = req.find("encoding_format"); f != req.end() && !f->is_null()) {
    if (!f->is_string() || *f != "float") {
      throw bad("encoding_format", "Only encoding_format 'float' is supported.");
    }
  }
  return out;
}

}  // namespace omni::server
