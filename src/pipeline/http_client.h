// A small blocking HTTP client over libcurl for the remote stages and `omni pull`.
//
//   http::Request r;
//   r.method = "POST";
//   r.url = base + "/v1/chat/completions";
//   r.json(body);                                   // sets body + Content-Type
//   r.cancelled = [&] { return stop_flag.load(); }; // polled; true aborts the transfer
//   http::Response resp = http::perform(r, [&](std::string_view chunk) { sse.feed(chunk, ...); });
//
// A body callback receives the response body as it arrives (SSE, chunked audio, downloads);
// without one the body is collected into Response::body. Responses with status >= 400 are never
// streamed to the callback: their body is collected and perform() throws HttpError carrying the
// status and the server's message (the OpenAI `{"error":{"message":...}}` when there is one).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace omni::http {

// The server answered with an error status.
class HttpError : public Error {
 public:
  HttpError(const std::string& what, long status, std::string message)
      : Error(what), status_(status), message_(std::move(message)) {}
  long status() const { return status_; }
  // The server's own words: error.message of an OpenAI error body, else the body's start.
  const std::string& message() const { return message_; }

 private:
  long status_;
  std::string message_;
};

// The transfer was stopped because Request::cancelled returned true.
class Cancelled : public Error {
 public:
  using Error::Error;
};

// One part of a multipart/form-data body.
struct FormPart {
  std::string name;
  std::string data;          // the value, or the file's bytes
  std::string filename;      // non-empty: sent as a file part
  std::string content_type;  // e.g. audio/wav; empty: curl's default
};

struct Request {
  std::string method = "GET";  // GET, POST, HEAD, ...
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;             // request body (POST); ignored when `form` is not empty
  std::vector<FormPart> form;   // non-empty: a multipart/form-data POST
  int64_t range_from = -1;      // >= 0: sends `Range: bytes=N-`
  long connect_timeout_ms = 10000;
  long timeout_ms = 0;          // whole transfer; 0: no limit
  // Abort when fewer than 1 byte/s arrives for this long (a stalled server); 0: never.
  long stall_timeout_s = 60;
  // Polled while the transfer runs (several times a second and on every received block);
  // returning true aborts it with Cancelled.
  std::function<bool()> cancelled;

  // Sets a JSON body and its Content-Type.
  Request& json(std::string text);
  Request& header(std::string name, std::string value);
  // `Authorization: Bearer KEY` (nothing when key is empty).
  Request& bearer(const std::string& key);
};

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // names in lower case; last value wins
  std::string body;                            // only when no body callback was given
  const std::string* header(const std::string& lower_name) const;
};

// Called with each piece of the body as it arrives. May throw to abort the transfer; the
// exception then propagates out of perform().
using OnData = std::function<void(std::string_view)>;
// Called once, when the status and headers are known and before any body byte.
using OnHeaders = std::function<void(const Response&)>;

// Runs the request. Throws:
//   HttpError   status >= 400 (message from the body),
//   Cancelled   request.cancelled() returned true,
//   omni::Error anything else (cannot connect, timeout, DNS, TLS, ...), naming method and URL.
Response perform(const Request& request, const OnData& on_data = {},
                 const OnHeaders& on_headers = {});

// The OpenAI-style error message in an error body, or a trimmed start of the body.
std::string error_message_from_body(std::string_view body);

}  // namespace omni::http
