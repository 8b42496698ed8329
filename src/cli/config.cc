// omni config show [--json] [--config FILE] [--set KEY=VALUE ...]
//   The effective configuration and where each value came from (default, file, flag).
// omni models [--dir DIR] [--json] [--config FILE]
//   Models in the models folder: size, kind (from the file's bytes), which stage uses each.
#include <cstdio>

#include "cli/command.h"
#include "pipeline/config.h"
#include "pipeline/models.h"
#include "pipeline/pull.h"

namespace omni::cli {
namespace {

struct ConfigArgs {
  std::string file;
  std::vector<std::string> sets;
  bool json = false;
  std::string dir;
};

pipeline::Config load(const ConfigArgs& a) {
  pipeline::Config c = pipeline::Config::load(a.file);
  for (const auto& s : a.sets) c.set_flag_assignment(s);
  return c;
}

void add_common(CLI::App* cmd, ConfigArgs& a) {
  cmd->add_option("--config", a.file, "configuration file (default $OMNI_CONFIG or ~/.config/omni/omni.toml)");
  cmd->add_option("--set", a.sets, "override a setting, e.g. --set llm.temperature=0.2");
  cmd->add_flag("--json", a.json, "JSON output");
}

std::string human_size(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1ull << 30));
  else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1ull << 20));
  else std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024);
  return buf;
}

void run_models(const ConfigArgs& a) {
  const pipeline::Config c = load(a);
  const std::string dir = a.dir.empty() ? pipeline::default_models_dir() : a.dir;
  const auto models = pipeline::list_installed(dir, c);
  if (a.json) {
    nlohmann::ordered_json j = {{"dir", dir}, {"models", nlohmann::ordered_json::array()}};
    for (const auto& m : models) {
      j["models"].push_back({{"name", m.name}, {"path", m.path}, {"size", m.size}, {"kind", m.kind},
                             {"detail", m.detail}, {"used_by", m.used_by}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("models in %s\n", dir.c_str());
  if (models.empty()) std::printf("  (none; `omni pull --list` shows what can be downloaded)\n");
  for (const auto& m : models) {
    std::string used;
    for (const auto& u : m.used_by) used += (used.empty() ? "  <- " : ", ") + u;
    std::printf("  %-40s %10s  %-7s %s%s\n", m.name.c_str(), human_size(m.size).c_str(), m.kind.c_str(),
                m.detail.c_str(), used.c_str());
  }
}

RegisterCommand reg_config([](CLI::App& app) {
  auto a = std::make_shared<ConfigArgs>();
  auto* group = command_group(app, "config", "configuration");
  auto* show = group->add_subcommand("show", "print the effective configuration and where each value came from");
  add_common(show, *a);
  show->callback([a] {
    const pipeline::Config c = load(*a);
    if (a->json) {
      std::printf("%s\n", c.to_json().dump(2).c_str());
    } else {
      std::printf("%s", c.to_text().c_str());
    }
  });
});

RegisterCommand reg_models([](CLI::App& app) {
  auto a = std::make_shared<ConfigArgs>();
  auto* cmd = app.add_subcommand("models", "list installed models and which stage uses them");
  add_common(cmd, *a);
  cmd->add_option("--dir", a->dir, "models folder (default $OMNI_MODELS or ~/.local/share/omni/models)");
  cmd->callback([a] { run_models(*a); });
});

}  // namespace
}  // namespace omni::cli
