// The browser UI at / (files embedded from web/ at build time).
#include "server/server_impl.h"
#include "server/web_assets.h"

namespace omni::server {

void Server::Impl::setup_web_routes() {
  for (const WebAsset& a : web_assets()) {
    auto handler = [&a](const httplib::Request&, httplib::Response& res) {
      res.set_content(reinterpret_cast<const char*>(a.data.data()), a.data.size(),
                      std::string(a.content_type).c_str());
      res.set_header("Cache-Control", "no-cache");
      res.set_header("X-Content-Type-Options", "nosniff");
      // Everything the page needs is on this origin; images and recorded audio are data:/blob:.
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data: blob:; media-src 'self' data: blob:; "
                     "connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'");
    };
    std::string path(1, '/');
    path.append(a.name);
    http.Get(path, handler);
    if (a.name == "index.html") http.Get("/", handler);
  }
}

}  // namespace omni::server
