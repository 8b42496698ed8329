#include "pipeline/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

namespace omni::http {
namespace {

// Error bodies are kept for the message only; a hostile server cannot make us hold more.
constexpr size_t kMaxErrorBody = 64 * 1024;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error("libcurl: global init failed");
  });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

struct Transfer {
  CURL* curl = nullptr;
  const Request* request = nullptr;
  const OnData* on_data = nullptr;
  const OnHeaders* on_headers = nullptr;
  Response response;
  bool headers_delivered = false;
  bool error_status = false;
  std::string error_body;
  std::exception_ptr failure;  // thrown by a callback; rethrown after curl returns
  bool cancelled = false;

  bool cancel_requested() {
    if (!cancelled && request->cancelled && request->cancelled()) cancelled = true;
    return cancelled;
  }

  // Status and headers are final once the first body byte (or the end) arrives.
  void deliver_headers() {
    if (headers_delivered) return;
    headers_delivered = true;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    error_status = response.status >= 400;
    if (!error_status && on_headers && *on_headers) (*on_headers)(response);
  }
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * n);
  // A new status line (after a redirect or 100 Continue) starts a fresh header set.
  if (line.starts_with("HTTP/")) {
    t->response.headers.clear();
    return size * n;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->response.headers[lower(std::string(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  if (t->cancel_requested()) return 0;
  try {
    t->deliver_headers();
    if (t->error_status) {
      const size_t take = std::min(bytes, kMaxErrorBody - std::min(kMaxErrorBody, t->error_body.size()));
      t->error_body.append(data, take);
    } else if (t->on_data && *t->on_data) {
      (*t->on_data)(std::string_view(data, bytes));
    } else {
      t->response.body.append(data, bytes);
    }
  } catch (...) {
    t->failure = std::current_exception();
    return 0;
  }
  return bytes;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Transfer*>(user)->cancel_requested() ? 1 : 0;
}

}  // namespace

Request& Request::json(std::string text) {
  body = std::move(text);
  return header("Content-Type", "application/json");
}

Request& Request::header(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

Request& Request::bearer(const std::string& key) {
  if (!key.empty()) header("Authorization", "Bearer " + key);
  return *this;
}

const std::string* Response::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? nullptr : &it->second;
}

std::string error_message_from_body(std::string_view body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    const auto e = j.find("error");
    if (e != j.end()) {
      if (e->is_string()) return e->get<std::string>();
      if (e->is_object()) {
        const auto m = e->find("message");
        if (m != e->end() && m->is_string()) return m->get<std::string>();
      }
    }
    const auto m = j.find("message");
    if (m != j.end() && m->is_string()) return m->get<std::string>();
  }
  std::string s = trim(body.substr(0, 200));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return s;
}

Response perform(const Request& request, const OnData& on_data, const OnHeaders& on_headers) {
  global_init();
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) throw Error("libcurl: cannot create a handle");
  CURL* c = curl.get();
  const std::string what = request.method + " " + request.url;

  Transfer t;
  t.curl = c;
  t.request = &request;
  t.on_data = &on_data;
  t.on_headers = &on_headers;
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  // Every caller speaks HTTP: no file://, ftp:// or others, not even through a redirect.
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "omni/0.1");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, request.connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, request.timeout_ms);
  if (request.stall_timeout_s > 0) {
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, request.stall_timeout_s);
  }
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);

  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(nullptr, &curl_slist_free_all);
  for (const auto& [name, value] : request.headers) {
    const std::string line = name + ": " + value;
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (!next) throw Error(what + ": out of memory building headers");
    headers.release();
    headers.reset(next);
  }
  if (request.range_from >= 0) {
    const std::string line = "Range: bytes=" + std::to_string(request.range_from) + "-";
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (!next) throw Error(what + ": out of memory building headers");
    headers.release();
    headers.reset(next);
  }
  // Without this curl waits up to a second for `100 Continue` before sending a large body.
  {
    curl_slist* next = curl_slist_append(headers.get(), "Expect:");
    if (next) {
      headers.release();
      headers.reset(next);
    }
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  std::unique_ptr<curl_mime, void (*)(curl_mime*)> mime(nullptr, &curl_mime_free);
  if (!request.form.empty()) {
    mime.reset(curl_mime_init(c));
    for (const FormPart& p : request.form) {
      curl_mimepart* part = curl_mime_addpart(mime.get());
      curl_mime_name(part, p.name.c_str());
      curl_mime_data(part, p.data.data(), p.data.size());
      if (!p.filename.empty()) curl_mime_filename(part, p.filename.c_str());
      if (!p.content_type.empty()) curl_mime_type(part, p.content_type.c_str());
    }
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime.get());
  } else if (request.method == "POST" || !request.body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET" && request.method != "POST") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  const CURLcode rc = curl_easy_perform(c);
  if (t.failure) std::rethrow_exception(t.failure);
  if (t.cancelled) throw Cancelled(what + ": cancelled");
  if (rc != CURLE_OK) {
    std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    while (!detail.empty() && detail.back() == '\n') detail.pop_back();
    switch (rc) {
      case CURLE_COULDNT_CONNECT:
        throw Error(what + ": cannot connect (" + detail + ")");
      case CURLE_COULDNT_RESOLVE_HOST:
        throw Error(what + ": unknown host (" + detail + ")");
      case CURLE_OPERATION_TIMEDOUT:
        throw Error(what + ": timed out (" + detail + ")");
      default:
        throw Error(what + ": " + detail);
    }
  }
  t.deliver_headers();
  if (t.error_status) {
    const std::string msg = error_message_from_body(t.error_body);
    throw HttpError(what + ": HTTP " + std::to_string(t.response.status) +
                        (msg.empty() ? "" : ": " + msg),
                    t.response.status, msg);
  }
  return std::move(t.response);
}

}  // namespace omni::http
