// omni pull NAME|URL [-o DIR] [--sha256 HEX] [--list]
//   Downloads a known model (see --list) or a URL into the models folder ($OMNI_MODELS or
//   ~/.local/share/omni/models): progress bar on a terminal, plain lines otherwise; resumes
//   FILE.part; verifies SHA-256; a Piper voice brings its .onnx.json along.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "cli/command.h"
#include "pipeline/pull.h"

namespace omni::cli {
namespace {

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// Redraws one line on a terminal (at most ~10 times a second); prints a line per 10% otherwise.
class ProgressPrinter {
 public:
  ProgressPrinter() : tty_(isatty(STDERR_FILENO) == 1) {}
  void operator()(const pipeline::PullProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (p.filename != file_) {
      file_ = p.filename;
      start_ = now;
      last_draw_ = {};
      last_decile_ = -1;
      start_bytes_ = p.done;
    }
    const int pct = p.total > 0 ? static_cast<int>(100.0 * static_cast<double>(p.done) /
                                                   static_cast<double>(p.total)) : -1;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(p.done - start_bytes_) / secs : 0;
    if (tty_) {
      if (!p.finished && now - last_draw_ < std::chrono::milliseconds(100)) return;
      last_draw_ = now;
      std::string bar;
      if (pct >= 0) {
        const int fill = pct * 30 / 100;
        bar = "[" + std::string(static_cast<size_t>(fill), '#') +
              std::string(static_cast<size_t>(30 - fill), ' ') + "] " + std::to_string(pct) + "% ";
      }
      std::fprintf(stderr, "\r\033[K%s %s%s%s  %s/s", file_.c_str(), bar.c_str(), mib(p.done).c_str(),
                   p.total ? (" / " + mib(p.total)).c_str() : "", mib(static_cast<uint64_t>(rate)).c_str());
      if (p.finished) std::fprintf(stderr, "\n");
      return;
    }
    const int decile = pct >= 0 ? pct / 10 : static_cast<int>(p.done >> 26);  // or every 64 MiB
    if (decile != last_decile_ || p.finished) {
      last_decile_ = decile;
      std::fprintf(stderr, "%s: %s%s%s\n", file_.c_str(), mib(p.done).c_str(),
                   p.total ? (" of " + mib(p.total)).c_str() : "",
                   p.finished ? " (done)" : "");
    }
  }

 private:
  bool tty_;
  std::string file_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  uint64_t start_bytes_ = 0;
  int last_decile_ = -1;
};

struct PullArgs {
  std::string what;
  std::string dir;
  std::string sha256;
  bool list = false;
};

void run_pull(const PullArgs& a) {
  if (a.list || a.what.empty()) {
    for (const auto& m : pipeline::known_models()) {
      std::printf("%-32s %-6s %s\n", m.name.c_str(), m.stage.c_str(), m.description.c_str());
    }
    if (!a.list) throw ExitCode{kExitUsage};
    return;
  }
  pipeline::PullOptions o;
  o.dir = a.dir;
  ProgressPrinter printer;
  o.on_progress = [&printer](const pipeline::PullProgress& p) { printer(p); };
  o.on_note = [](const std::string& n) { std::fprintf(stderr, "%s\n", n.c_str()); };
  for (const auto& r : pipeline::pull(a.what, o, a.sha256)) {
    const char* state = r.already_present ? "already present" : r.verified ? "sha256 verified"
                                                                           : "sha256 not checked (no hash known)";
    std::printf("%s  %s  %s\n", r.path.c_str(), r.sha256.empty() ? "-" : r.sha256.c_str(), state);
  }
}

RegisterCommand reg([](CLI::App& app) {
  auto a = std::make_shared<PullArgs>();
  auto* cmd = app.add_subcommand("pull", "download a model by name or URL into the models folder");
  cmd->add_option("model", a->what, "a known name (see --list) or an http(s) URL");
  cmd->add_option("-o,--dir", a->dir, "target folder (default $OMNI_MODELS or ~/.local/share/omni/models)");
  cmd->add_option("--sha256", a->sha256, "expected SHA-256 of the file (hex)");
  cmd->add_flag("--list", a->list, "list the known model names");
  cmd->callback([a] { run_pull(*a); });
});

}  // namespace
}  // namespace omni::cli
