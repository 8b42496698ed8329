// The browser UI (the files of web/), compiled into the binary by a build step
// (cmake/EmbedFiles.cmake): `omni serve` needs no files and no build tools at run time.
#pragma once

#include <span>
#include <string_view>

namespace omni::server {

struct WebAsset {
  std::string_view name;          // file name in web/ ("index.html", "app.js", ...)
  std::string_view content_type;  // from the extension
  std::span<const unsigned char> data;
};

// Every embedded file, sorted by name.
std::span<const WebAsset> web_assets();

}  // namespace omni::server
