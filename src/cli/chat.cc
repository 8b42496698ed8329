// omni chat -m MODEL [--system TEXT] [-n N] [--temp T] [--seed S] [-t THREADS]
// An interactive conversation: the model's chat template, streamed replies, the KV cache kept
// between turns. Commands: /reset (forget the conversation), /exit (or end of input).
// Models without a chat template continue the text you type (a story model tells a story).
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <random>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "llm/chat.h"

namespace omni::cli {
namespace {

struct ChatFlags {
  std::string model;
  std::string system;
  int n = 512;
  float temp = 0.7f;
  int64_t seed = -1;
  int threads = 0;
  uint32_t ctx = 0;
};

void run_chat(const ChatFlags& f) {
  ThreadPool pool(f.threads);
  auto model = llm::Model::load(f.model);
  llm::Chat chat(model, {.n_ctx = f.ctx, .pool = &pool}, f.system);
  llm::GenerateOptions opts;
  opts.max_tokens = f.n;
  opts.sampling.temperature = f.temp;
  opts.sampling.seed = f.seed >= 0 ? static_cast<uint64_t>(f.seed) : std::random_device{}();
  const bool tty = isatty(fileno(stdin));
  std::fprintf(stderr, "omni chat: %s (%s%s). /reset clears the conversation, /exit quits.\n",
               f.model.c_str(), model->config().arch.c_str(),
               chat.has_template() ? ", chat template" : ", no chat template: text continuation");
  std::string line;
  for (;;) {
    if (tty) std::fputs("> ", stdout);
    std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      chat.reset();
      std::puts("(conversation cleared)");
      continue;
    }
    if (line.empty()) continue;
    try {
      const auto r = chat.send(line, opts, [](std::string_view t) {
        std::fwrite(t.data(), 1, t.size(), stdout);
        std::fflush(stdout);
        return true;
      });
      std::fputs("\n", stdout);
      std::fprintf(stderr, "[%d tokens, %.1f tok/s; prompt %d new + %d cached tokens]\n",
                   r.timings.generated_tokens, r.timings.generate_tokens_per_s(),
                   r.timings.prompt_tokens, r.timings.reused_tokens);
    } catch (const Error& e) {
      // One bad turn (e.g. the context is full) does not end the session.
      std::fprintf(stderr, "omni: error: %s\n", e.what());
    }
  }
}

const RegisterCommand reg([](CLI::App& app) {
  auto f = std::make_shared<ChatFlags>();
  auto* cmd = app.add_subcommand("chat", "Interactive chat with a GGUF language model");
  cmd->add_option("-m,--model", f->model, "GGUF model file")->required();
  cmd->add_option("--system", f->system, "system prompt");
  cmd->add_option("-n,--n-predict", f->n, "max tokens per reply (default 512)");
  cmd->add_option("--temp", f->temp, "temperature (default 0.7; 0 = greedy)");
  cmd->add_option("--seed", f->seed, "sampling seed (default: random)");
  cmd->add_option("-t,--threads", f->threads, "threads (default: all cores)");
  cmd->add_option("-c,--ctx", f->ctx, "context size (default: the model's, at most 4096)");
  cmd->callback([f] { run_chat(*f); });
});

}  // namespace
}  // namespace omni::cli
