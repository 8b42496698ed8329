// omni embed-image IMAGE --mmproj FILE [-t THREADS] [--json]
// Runs the vision encoder + projector of an mmproj on one image (file path or data: URL).
// --json prints one object:
//   {"n_tokens": N, "n_embd": E, "tiles": T, "tokens_per_tile": [...],
//    "grid": {"cols": C, "rows": R}, "projector": "...",
//    "embeddings": [N * E floats, row-major: token 0's E values, then token 1's, ...]}
// Tokens are in LLM order (idefics3: tiles row-major, then the global image). Without --json a
// short summary (shape, time, first values) is printed.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>

#include "cli/command.h"
#include "core/thread_pool.h"
#include "vision/clip_model.h"
#include "vision/image.h"

namespace omni::cli {
namespace {

struct Flags {
  std::string image;
  std::string mmproj;
  int threads = 0;
  bool json = false;
};

void run(const Flags& f) {
  ThreadPool pool(f.threads);
  const auto model = vision::ClipModel::load(f.mmproj);
  const vision::Image img = f.image.rfind("data:", 0) == 0 ? vision::decode_data_url(f.image)
                                                          : vision::load_image(f.image);
  const auto t0 = std::chrono::steady_clock::now();
  const vision::VisionInput in = vision::preprocess(img, model->preprocess_config());
  const vision::ImageEmbeddings e = model->encode(in, &pool);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (f.json) {
    nlohmann::ordered_json j;
    j["n_tokens"] = e.n_tokens;
    j["n_embd"] = e.n_embd;
    j["tiles"] = e.tokens_per_tile.size();
    j["tokens_per_tile"] = e.tokens_per_tile;
    j["grid"] = {{"cols", in.grid_cols}, {"rows", in.grid_rows}};
    j["projector"] = model->hparams().projector_name;
    j["image"] = {{"width", img.width}, {"height", img.height}};
    j["embeddings"] = e.data;
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%s: %dx%d -> %zu tile(s), %d tokens x %d (projector %s), %.1f ms\n",
              f.image.rfind("data:", 0) == 0 ? "data URL" : f.image.c_str(), img.width,
              img.height, e.tokens_per_tile.size(), e.n_tokens, e.n_embd,
              model->hparams().projector_name.c_str(), ms);
  std::printf("token 0:");
  for (int i = 0; i < std::min(e.n_embd, 8); ++i) std::printf(" %.6f", static_cast<double>(e.data[static_cast<size_t>(i)]));
  std::printf("%s\n", e.n_embd > 8 ? " ..." : "");
}

const RegisterCommand reg([](CLI::App& app) {
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("embed-image", "Image embeddings from an mmproj vision encoder");
  cmd->add_option("image", f->image, "image file (PNG, JPEG, BMP, GIF, WebP) or data: URL")->required();
  cmd->add_option("--mmproj", f->mmproj, "mmproj GGUF file (projector mlp or idefics3)")->required();
  cmd->add_option("-t,--threads", f->threads, "threads (default: all cores)");
  cmd->add_flag("--json", f->json, "print shape and all values as one JSON object");
  cmd->callback([f] { run(*f); });
});

}  // namespace
}  // namespace omni::cli
