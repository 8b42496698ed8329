// omni bench llm -m MODEL [-p 128] [-n 64] [-t 2] [-r 3] [-c CTX] [--bandwidth | --ceiling GBS]
//                 [--json]
// Prompt processing (one batch of p tokens from an empty context) and text generation (n single
// tokens from an empty context), as llama-bench measures them, in tokens per second; with
// --bandwidth (or a ceiling given by --ceiling) also generation's weight stream as a share of the
// machine's memory read-bandwidth ceiling, probed on both sides of the generation run.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "cli/command.h"
#include "core/cpu.h"
#include "core/mem_probe.h"
#include "core/mem_stats.h"
#include "core/thread_pool.h"
#include "llm/model.h"

namespace omni::cli {
namespace {

struct BenchFlags {
  std::string model;
  int p = 128;
  int n = 64;
  int threads = 0;
  int reps = 3;
  uint32_t ctx = 0;
  bool json = false;
  bool probe = false;     // measure the bandwidth ceiling in this process
  double ceiling = 0;     // GB/s given on the command line (0: none)
};

// The read-bandwidth ceiling: the best probe shape on all hardware threads (the machine's
// figure) and on the benchmark's own thread count.
struct Ceiling {
  double machine = 0, at_threads = 0;
  int machine_threads = 0;
  std::string shape, source;
  std::vector<MemReadResult> all;
};

Ceiling measure_ceiling(const BenchFlags& f, ThreadPool& pool) {
  Ceiling c;
  if (!f.probe) {
    c.machine = c.at_threads = f.ceiling;
    c.source = "flag";
    return c;
  }
  constexpr size_t kBytes = size_t{512} << 20;  // 16x this VM's L3
  ThreadPool all(0);
  c.all = probe_read_bandwidth(all, kBytes);
  c.machine = c.all.front().gb_per_s;
  c.machine_threads = all.size();
  c.shape = c.all.front().shape.name();
  c.at_threads = c.machine;
  if (pool.size() != all.size()) {
    auto mine = probe_read_bandwidth(pool, kBytes);
    c.at_threads = mine.front().gb_per_s;
    c.all.insert(c.all.end(), mine.begin(), mine.end());
  }
  c.source = "probe";
  return c;
}

// Both probes of one run folded into one ceiling: each figure the higher of the two, every
// shape measured listed.
Ceiling higher(Ceiling a, Ceiling b) {
  if (b.machine > a.machine) std::swap(a, b);
  a.at_threads = std::max(a.at_threads, b.at_threads);
  a.all.insert(a.all.end(), b.all.begin(), b.all.end());
  return a;
}

struct Stat {
  double mean = 0, stddev = 0;
};

Stat stat(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  s.stddev = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0;
  return s;
}

void run_bench(const BenchFlags& f) {
  ThreadPool pool(f.threads);
  const auto t_load = std::chrono::steady_clock::now();
  auto model = llm::Model::load(f.model);
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();
  const auto& c = model->config();
  const uint32_t n_ctx = f.ctx ? f.ctx : static_cast<uint32_t>(std::max(f.p, f.n) + 8);
  llm::Context ctx(model, {.n_ctx = n_ctx, .n_batch = static_cast<uint32_t>(std::max(f.p, 1)), .pool = &pool});
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(c.n_vocab) - 1);
  std::vector<int32_t> prompt(static_cast<size_t>(f.p));
  for (auto& t : prompt) t = tok(rng);

  // The VM's read bandwidth drifts with what the host runs (29-55 GB/s seen on one machine within
  // an hour), so a probe taken only after generation can meet another regime than generation
  // did. Probing on both sides and keeping the higher figure makes the share conservative.
  Ceiling ceil_before;
  if (f.probe && f.n > 0) {
    ceil_before = measure_ceiling(f, pool);
    reset_peak_rss();  // the probe's buffer is not the model's memory
  }

  auto now = [] { return std::chrono::steady_clock::now(); };
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::vector<double> pp, tg;
  for (int r = 0; r <= f.reps; ++r) {  // r == 0 is a warm-up
    if (f.p > 0) {
      ctx.clear();
      const auto t0 = now();
      ctx.eval(prompt);
      if (r) pp.push_back(f.p / secs(t0, now()));
    }
    if (f.n > 0) {
      ctx.clear();
      int32_t t = prompt.empty() ? 1 : prompt[0];
      const auto t0 = now();
      for (int i = 0; i < f.n; ++i) {
        ctx.eval(std::span<const int32_t>(&t, 1));
        t = tok(rng);
      }
      if (r) tg.push_back(f.n / secs(t0, now()));
    }
  }
  const Stat spp = stat(pp), stg = stat(tg);
  const MemStats mem = mem_stats();
  uint64_t weight_bytes = 0;
  for (const auto& t : model->file().tensors()) weight_bytes += t.n_bytes;
  // Generation reads every weight once per token except an untied token embedding (one row),
  // so this is the memory traffic it sustains, to compare with the bandwidth probe.
  uint64_t read_bytes = weight_bytes;
  bool untied = false;
  for (const auto& t : model->file().tensors()) untied |= t.name == "output.weight";
  for (const auto& t : model->file().tensors()) {
    if (untied && t.name == "token_embd.weight") read_bytes -= t.n_bytes;
  }
  const double tg_gbs = static_cast<double>(read_bytes) * stg.mean * 1e-9;
  Ceiling ceil = f.probe || f.ceiling > 0 ? measure_ceiling(f, pool) : Ceiling{};
  const double probe_before = ceil_before.machine, probe_after = ceil.machine;
  if (probe_before > 0) ceil = higher(std::move(ceil_before), std::move(ceil));
  const auto pct = [](double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0.0; };
  if (f.json) {
    nlohmann::json j;
    j["model"] = f.model;
    j["arch"] = c.arch;
    j["threads"] = pool.size();
    j["cpu"] = std::string(cpu_level_name(cpu_level()));
    j["weight_bytes"] = weight_bytes;
    j["load_ms"] = load_ms;
    j["pp"] = {{"tokens", f.p}, {"tokens_per_s", spp.mean}, {"stddev", spp.stddev}};
    j["tg"] = {{"tokens", f.n}, {"tokens_per_s", stg.mean}, {"stddev", stg.stddev},
               {"weight_gb_per_s", tg_gbs}, {"bytes_per_token", read_bytes}};
    if (ceil.machine > 0) {
      j["tg"]["pct_of_ceiling"] = pct(tg_gbs, ceil.machine);
      j["tg"]["pct_of_ceiling_at_threads"] = pct(tg_gbs, ceil.at_threads);
      nlohmann::json b = {{"source", ceil.source}, {"ceiling_gb_per_s", ceil.machine},
                          {"at_threads_gb_per_s", ceil.at_threads}};
      if (ceil.source == "probe") {
        if (probe_before > 0) {
          b["probe_before_tg_gb_per_s"] = probe_before;
          b["probe_after_tg_gb_per_s"] = probe_after;
        }
        b["machine_threads"] = ceil.machine_threads;
        b["best_shape"] = ceil.shape;
        nlohmann::json shapes = nlohmann::json::array();
        for (const auto& r : ceil.all) {
          shapes.push_back({{"shape", r.shape.name()}, {"threads", r.threads}, {"gb_per_s", r.gb_per_s}});
        }
        b["shapes"] = shapes;
      }
      j["bandwidth"] = b;
    }
    // Resident memory at the end (bytes): file-backed = touched weight pages + the binary.
    j["memory"] = {{"file_bytes", model->file().file_size()}, {"kv_cache_bytes", ctx.kv_cache().bytes()},
                   {"peak_rss", mem.peak}, {"rss", mem.rss}, {"rss_anon", mem.rss_anon},
                   {"rss_file", mem.rss_file}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("model %s (%s, %.1f MiB of weights), %d threads, kernels %s, load %.0f ms\n",
                f.model.c_str(), c.arch.c_str(), static_cast<double>(weight_bytes) / (1 << 20),
                pool.size(), std::string(cpu_level_name(cpu_level())).c_str(), load_ms);
    if (f.p > 0) std::printf("pp%-5d %10.2f ± %.2f tokens/s\n", f.p, spp.mean, spp.stddev);
    if (f.n > 0) {
      std::printf("tg%-5d %10.2f ± %.2f tokens/s (%.1f MB per token, %.1f GB/s of weights)\n", f.n,
                  stg.mean, stg.stddev, static_cast<double>(read_bytes) * 1e-6, tg_gbs);
    }
    if (ceil.machine > 0) {
      std::printf("read-bandwidth ceiling %.1f GB/s (%s%s%s), %.1f GB/s at %d threads: tg at %.0f %% / %.0f %%\n",
                  ceil.machine, ceil.source.c_str(), ceil.shape.empty() ? "" : ", ", ceil.shape.c_str(),
                  ceil.at_threads, pool.size(), pct(tg_gbs, ceil.machine), pct(tg_gbs, ceil.at_threads));
    }
    std::printf("memory: %s; file %.1f MiB, kv cache %.1f MiB\n", mem_stats_line(mem).c_str(),
                static_cast<double>(model->file().file_size()) / (1 << 20),
                static_cast<double>(ctx.kv_cache().bytes()) / (1 << 20));
  }
}

const RegisterCommand reg([](CLI::App& app) {
  auto f = std::make_shared<BenchFlags>();
  auto* bench = command_group(app, "bench", "Benchmarks of the engines");
  auto* cmd = bench->add_subcommand("llm", "Prompt processing and generation speed of a GGUF model");
  cmd->add_option("-m,--model", f->model, "GGUF model file")->required();
  cmd->add_option("-p,--n-prompt", f->p, "prompt tokens (default 128)");
  cmd->add_option("-n,--n-gen", f->n, "generated tokens (default 64)");
  cmd->add_option("-t,--threads", f->threads, "threads (default: all cores)");
  cmd->add_option("-r,--repetitions", f->reps, "repetitions (default 3)");
  cmd->add_option("-c,--ctx-size", f->ctx, "KV cache length in tokens (default: max(p, n) + 8)");
  cmd->add_flag("--bandwidth", f->probe,
                "also measure the memory read-bandwidth ceiling (512 MiB buffer, several read shapes, "
                "all hardware threads and -t) before and after generation, keep the higher, and report "
                "generation as a share of it");
  cmd->add_option("--ceiling", f->ceiling, "memory read-bandwidth ceiling in GB/s to report against")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", f->json, "print one JSON object");
  cmd->callback([f] { run_bench(*f); });
});

}  // namespace
}  // namespace omni::cli
