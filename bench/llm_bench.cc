// End-to-end prompt processing of a GGUF model named by the environment variable
// OMNI_BENCH_LLM (skipped without it; models are generated with omni-gen, e.g. the
// qwen2-0.5b preset): a 128-token prompt evaluated from position 0, tokens per second, on 1
// and 2 threads (the figure llama-bench reports as pp128).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "llm/model.h"

namespace {

void BM_LlmPrompt128(benchmark::State& state) {
  const char* path = std::getenv("OMNI_BENCH_LLM");
  if (path == nullptr || *path == '\0') {
    state.SkipWithError("set OMNI_BENCH_LLM to a GGUF model");
    return;
  }
  static std::shared_ptr<const omni::llm::Model> model = omni::llm::Model::load(path);
  omni::ThreadPool pool(static_cast<int>(state.range(0)));
  omni::llm::ContextOptions opt;
  opt.n_ctx = 512;
  opt.pool = &pool;
  omni::llm::Context ctx(model, opt);
  const uint32_t n_vocab = model->config().n_vocab;
  std::vector<int32_t> prompt(128);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 7919 + 13) % n_vocab);
  for (auto _ : state) {
    ctx.clear();
    benchmark::DoNotOptimize(ctx.eval(prompt).data());
  }
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(prompt.size()) *
                                                   static_cast<double>(state.iterations()),
                                               benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LlmPrompt128)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
