// Cost of rendering a conversation with real chat templates (parse + render per call, as
// render_chat does): 20 turns with the Llama 3.1-style and Qwen3 templates.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "llm/chat_template.h"
#include "testing/build_paths.h"

namespace {

std::string load(const std::string& name) {
  // The configured source folder, not __FILE__: ccache's base_dir makes __FILE__ relative.
  const auto path = std::filesystem::path(omni::testing::kSourceDir) / "src" / "llm" / "testdata" /
                    "templates" / name;
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("missing template " + path.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<omni::llm::ChatMessage> turns(int n) {
  std::vector<omni::llm::ChatMessage> m(1);
  m[0].role = "system";
  m[0].content = "You are a helpful assistant.";
  for (int i = 0; i < n; ++i) {
    omni::llm::ChatMessage t;
    t.role = i % 2 ? "assistant" : "user";
    t.content = std::string(200, static_cast<char>('a' + i % 26));
    m.push_back(t);
  }
  return m;
}

void BM_RenderChat(benchmark::State& state, const char* file) {
  const std::string tmpl = load(file);
  const auto messages = turns(20);
  omni::llm::ChatOptions opts;
  opts.bos_token = "<s>";
  opts.variables["date_string"] = "26 Jul 2024";
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string out = omni::llm::render_chat(tmpl, messages, opts);
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

BENCHMARK_CAPTURE(BM_RenderChat, llama31, "meta-llama-Llama-3.3-70B-Instruct.jinja");
BENCHMARK_CAPTURE(BM_RenderChat, qwen3, "Qwen-Qwen3-0.6B.jinja");

}  // namespace
