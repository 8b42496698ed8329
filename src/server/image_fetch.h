// `image_url` parts with http(s) URLs (`omni serve --allow-image-urls`, off by default: the
// server would otherwise fetch any address a client names, including ones only it can reach).
#pragma once

#include <cstddef>
#include <string>

#include "server/base64.h"

namespace omni::server {

struct ImageFetchLimits {
  size_t max_bytes = 20 << 20;  // larger images are refused (Content-Length or bytes received)
  long timeout_ms = 10000;      // the whole transfer, redirects included
};

// True for "http://..." and "https://..." (scheme case-insensitive).
bool is_http_url(const std::string& url);

// Downloads the image at an http(s) URL (redirects followed, http/https only). Every failure is
// an ApiError 400 with code `invalid_image_url` and `param` as its param: another scheme,
// connection or DNS failure, timeout, an HTTP error status, an empty or oversized body. The mime
// type is the response's Content-Type when it names an image, else empty (sniffed later).
DataUrl fetch_image_url(const std::string& url, const std::string& param,
                        const ImageFetchLimits& limits = {});

}  // namespace omni::server
