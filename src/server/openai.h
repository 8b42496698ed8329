// OpenAI API shapes: the error object, and request fields turned into engine options with the
// same validation (types, ranges) and error messages OpenAI gives.
#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llm/chat_template.h"
#include "llm/generate.h"
#include "llm/vocab.h"

namespace omni::server {

// A request that gets an OpenAI-style error answer: {"error":{"message","type","param","code"}}.
struct ApiError : std::runtime_error {
  ApiError(int status_, std::string message, std::string param_ = "", std::string code_ = "",
           std::string type_ = "")
      : std::runtime_error(std::move(message)),
        status(status_),
        param(std::move(param_)),
        code(std::move(code_)),
        type(std::move(type_)) {}
  int status;
  std::string param, code, type;  // empty param/code → null; empty type → from the status
};

// The error body for `e` (the type defaults to OpenAI's name for the status class).
std::string error_body(const ApiError& e);

// Parses a request body as a JSON object (400 invalid_request_error otherwise).
nlohmann::json parse_body(const std::string& body);

// Sampling and length options shared by chat and text completions. `n_vocab` bounds logit_bias.
struct CompletionParams {
  llm::GenerateOptions gen;
  bool stream = false;
  bool include_usage = false;
};
CompletionParams parse_completion_params(const nlohmann::json& req, size_t n_vocab, bool chat);

// Turns a non-text content part (`image_url`, `input_audio`) into prompt text; `where` names the
// part in error messages ("messages[0].content[1]").
using PartToText = std::function<std::string(const nlohmann::json& part, const std::string& type,
                                             const std::string& where)>;

// `messages` → template messages (string content, or parts joined by newlines). Without
// `to_text`, parts other than `text` are rejected.
std::vector<llm::ChatMessage> parse_messages(const nlohmann::json& req,
                                             const PartToText& to_text = nullptr);

// `input` of /v1/embeddings: a string or an array of strings.
std::vector<std::string> parse_embedding_input(const nlohmann::json& req);

// Returns the JSON's string field `key` (400 if missing or not a string).
std::string require_string(const nlohmann::json& req, const char* key);

}  // namespace omni::server
