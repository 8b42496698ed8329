// omni bench vision --mmproj FILE [--image I] [-t N] [-r RUNS] [--json]
// Image encode time of an mmproj: preprocessing (resize, tiles, normalisation), the ViT, and
// the projector, per image, mean over the runs after one warm-up. Without --image a synthetic
// 640x480 image is used (compute does not depend on pixel values, only on the tile count).
#include <nlohmann/json.hpp>

#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "cli/command.h"
#include "core/cpu.h"
#include "core/thread_pool.h"
#include "vision/clip_model.h"
#include "vision/image.h"

namespace omni::cli {
namespace {

struct Flags {
  std::string mmproj;
  std::string image;
  int threads = 0;
  int runs = 3;
  bool json = false;
};

// CPU time of the whole process (all pool threads), in ms: on a shared machine it shows the
// work done independently of how long other processes kept the cores.
double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

vision::Image synthetic(int w, int h) {
  vision::Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  return img;
}

void run(const Flags& f) {
  if (f.runs < 1) throw CLI::ValidationError("--runs", "must be at least 1");
  ThreadPool pool(f.threads);
  const auto t_load = std::chrono::steady_clock::now();
  const auto model = vision::ClipModel::load(f.mmproj);
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();
  const vision::Image img = f.image.empty() ? synthetic(640, 480) : vision::load_image(f.image);
  std::vector<double> pre, vit, proj, total, cpu;
  int n_tiles = 0, n_tokens = 0;
  for (int r = 0; r <= f.runs; ++r) {  // r == 0 is a warm-up
    const double c0 = process_cpu_ms();
    const auto t0 = std::chrono::steady_clock::now();
    const vision::VisionInput in = vision::preprocess(img, model->preprocess_config());
    const auto t1 = std::chrono::steady_clock::now();
    vision::EncodeTimings tm;
    const vision::ImageEmbeddings e = model->encode(in, &pool, &tm);
    const auto t2 = std::chrono::steady_clock::now();
    const double c1 = process_cpu_ms();
    n_tiles = static_cast<int>(in.tiles.size());
    n_tokens = e.n_tokens;
    if (r == 0) continue;
    pre.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    vit.push_back(tm.vit_ms);
    proj.push_back(tm.project_ms);
    total.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
    cpu.push_back(c1 - c0);
  }
  auto mean = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()); };
  const auto& hp = model->hparams();
  uint64_t weight_bytes = 0;
  for (const auto& t : model->file().tensors()) weight_bytes += t.n_bytes;
  if (f.json) {
    nlohmann::ordered_json j;
    j["mmproj"] = f.mmproj;
    j["projector"] = hp.projector_name;
    j["image"] = f.image.empty() ? "synthetic" : f.image;
    j["image_size"] = {img.width, img.height};
    j["threads"] = pool.size();
    j["cpu"] = std::string(cpu_level_name(cpu_level()));
    j["weight_bytes"] = weight_bytes;
    j["load_ms"] = load_ms;
    j["tiles"] = n_tiles;
    j["tokens"] = n_tokens;
    j["runs"] = f.runs;
    j["preprocess_ms"] = mean(pre);
    j["vit_ms"] = mean(vit);
    j["project_ms"] = mean(proj);
    j["total_ms"] = mean(total);
    j["cpu_ms"] = mean(cpu);
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("mmproj %s (%s, ViT %d layers x %d, %d px / %d, %.1f MiB), %d threads, kernels %s\n",
              f.mmproj.c_str(), hp.projector_name.c_str(), hp.n_layer, hp.n_embd, hp.image_size,
              hp.patch_size, static_cast<double>(weight_bytes) / (1 << 20), pool.size(),
              std::string(cpu_level_name(cpu_level())).c_str());
  std::printf("image %dx%d -> %d tile(s), %d tokens; mean of %d runs:\n", img.width, img.height,
              n_tiles, n_tokens, f.runs);
  std::printf("  preprocess %9.2f ms\n  vit        %9.2f ms\n  project    %9.2f ms\n  total      %9.2f ms\n"
              "  cpu time   %9.2f ms (all threads)\n",
              mean(pre), mean(vit), mean(proj), mean(total), mean(cpu));
}

const RegisterCommand reg([](CLI::App& app) {
  auto f = std::make_shared<Flags>();
  auto* bench = command_group(app, "bench", "Benchmarks of the engines");
  auto* cmd = bench->add_subcommand("vision", "Image encode time of an mmproj vision encoder");
  cmd->add_option("--mmproj", f->mmproj, "mmproj GGUF file")->required();
  cmd->add_option("--image", f->image, "image file (default: synthetic 640x480)");
  cmd->add_option("-t,--threads", f->threads, "threads (default: all cores)");
  cmd->add_option("-r,--runs", f->runs, "timed runs after one warm-up (default 3)");
  cmd->add_flag("--json", f->json, "print one JSON object");
  cmd->callback([f] { run(*f); });
});

}  // namespace
}  // namespace omni::cli
