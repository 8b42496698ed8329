#include "server/image_fetch.h"

#include <algorithm>
#include <cctype>

#include "pipeline/http_client.h"
#include "server/openai.h"

namespace omni::server {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// An URL is echoed in errors shortened, so a huge one cannot bloat the answer.
std::string shown(const std::string& url) {
  return url.size() <= 120 ? url : url.substr(0, 117) + "...";
}

}  // namespace

bool is_http_url(const std::string& url) {
  const std::string head = lower(url.substr(0, 8));
  return head.starts_with("http://") || head.starts_with("https://");
}

DataUrl fetch_image_url(const std::string& url, const std::string& param,
                        const ImageFetchLimits& limits) {
  auto fail = [&](const std::string& why) {
    return ApiError(400, "Error while downloading " + shown(url) + ": " + why, param,
                    "invalid_image_url");
  };
  if (!is_http_url(url)) throw fail("only http and https URLs are fetched");
  const std::string too_big =
      "the image is larger than " + std::to_string(limits.max_bytes) + " bytes";
  http::Request req;
  req.url = url;
  req.timeout_ms = limits.timeout_ms;
  req.connect_timeout_ms = std::min<long>(limits.timeout_ms, 10000);
  DataUrl out;
  std::string body;
  try {
    http::Response r = http::perform(
        req,
        [&](std::string_view chunk) {
          if (body.size() + chunk.size() > limits.max_bytes) throw fail(too_big);
          body.append(chunk);
        },
        [&](const http::Response& head) {
          if (const std::string* len = head.header("content-length")) {
            char* end = nullptr;
            const unsigned long long n = std::strtoull(len->c_str(), &end, 10);
            if (end != len->c_str() && n > limits.max_bytes) throw fail(too_big);
          }
        });
    if (const std::string* type = r.header("content-type")) {
      std::string t = lower(type->substr(0, type->find(';')));
      while (!t.empty() && t.back() == ' ') t.pop_back();
      if (t.starts_with("image/")) out.mime = t;
    }
  } catch (const ApiError&) {
    throw;
  } catch (const http::HttpError& e) {
    throw fail("HTTP " + std::to_string(e.status()) + (e.message().empty() ? "" : " (" + e.message() + ")"));
  } catch (const Error& e) {
    throw fail(e.what());
  }
  if (body.empty()) throw fail("the response is empty");
  out.bytes.assign(body.begin(), body.end());
  return out;
}

}  // namespace omni::server
