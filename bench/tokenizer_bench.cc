// Tokenizer throughput on ~100 KB of mixed text (English prose and code, accents, CJK, Korean,
// emoji: the conformance inputs and golden strings, repeated) for each tokenizer kind.
// Reference data: $OMNI_REFDATA, else ../shared/refdata from the working directory (run from
// the project root).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "core/gguf.h"
#include "llm/vocab.h"

namespace {

std::string refdata(const std::string& rel) {
  const char* env = std::getenv("OMNI_REFDATA");
  return std::string(env ? env : "../shared/refdata") + "/" + rel;
}

std::string slurp(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot read " + path + " (set OMNI_REFDATA)");
  std::string out;
  char buf[65536];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  std::fclose(f);
  return out;
}

const std::string& corpus() {
  static const std::string text = [] {
    const std::string inp = slurp(refdata("llm/vocab/ggml-vocab-gpt-2.gguf.inp"));
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::string seed;
    for (size_t pos = 0;;) {
      const size_t next = inp.find(sep, pos);
      seed.append(inp, pos, next == std::string::npos ? std::string::npos : next - pos);
      if (next == std::string::npos) break;
      seed += '\n';
      pos = next + sep.size();
    }
    seed += slurp(refdata("llm/golden/golden-input.json"));
    std::string t;
    while (t.size() < 100 * 1024) t += seed;
    return t;
  }();
  return text;
}

const omni::llm::Vocab& vocab(const std::string& rel) {
  static std::map<std::string, std::unique_ptr<omni::llm::Vocab>> cache;
  auto& v = cache[rel];
  if (!v) {
    const auto f = omni::gguf::File::open(refdata(rel));
    v = std::make_unique<omni::llm::Vocab>(omni::llm::Vocab::from_gguf(f));
  }
  return *v;
}

void run(benchmark::State& state, const char* rel) {
  const auto& v = vocab(rel);
  const std::string& text = corpus();
  size_t tokens = 0;
  for (auto _ : state) {
    const auto ids = v.tokenize(text, true, false);
    tokens += ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
}

void BM_Tokenize_SPM_Llama(benchmark::State& s) { run(s, "llm/vocab/ggml-vocab-llama-spm.gguf"); }
void BM_Tokenize_BPE_Gpt2(benchmark::State& s) { run(s, "llm/vocab/ggml-vocab-gpt-2.gguf"); }
void BM_Tokenize_BPE_Qwen2(benchmark::State& s) { run(s, "llm/models/tiny-qwen2-rand-f32.gguf"); }
void BM_Tokenize_BPE_DeepseekCoder(benchmark::State& s) {
  run(s, "llm/vocab/ggml-vocab-deepseek-coder.gguf");
}
void BM_Tokenize_WPM_BertBge(benchmark::State& s) { run(s, "llm/vocab/ggml-vocab-bert-bge.gguf"); }

void BM_Detokenize_BPE_Qwen2(benchmark::State& state) {
  const auto& v = vocab("llm/models/tiny-qwen2-rand-f32.gguf");
  const auto ids = v.tokenize(corpus(), false, false);
  for (auto _ : state) benchmark::DoNotOptimize(v.detokenize(ids));
  state.counters["tokens/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * ids.size()), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Tokenize_SPM_Llama)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Tokenize_BPE_Gpt2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Tokenize_BPE_Qwen2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Tokenize_BPE_DeepseekCoder)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Tokenize_WPM_BertBge)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Detokenize_BPE_Qwen2)->Unit(benchmark::kMillisecond);

}  // namespace
