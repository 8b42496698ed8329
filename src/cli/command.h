// Each `omni` sub-command lives in its own src/cli/<command>.cc and registers itself here, so
// adding a command never touches main.cc. Commands are thin: they parse flags, call libomni and
// print. Errors propagate as exceptions; main() turns them into a message and an exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace omni::cli {

// Adds one sub-command (with its options and callback) to the top-level app.
using CommandSetup = std::function<void(CLI::App& app)>;

struct CommandRegistry {
  static std::vector<CommandSetup>& all();
};

struct RegisterCommand {
  explicit RegisterCommand(CommandSetup setup) { CommandRegistry::all().push_back(std::move(setup)); }
};

// The sub-command group `name` (e.g. "bench"), created on first use so several command files
// can add sub-commands to it.
inline CLI::App* command_group(CLI::App& app, const std::string& name,
                               const std::string& description) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == name) return sub;
  }
  CLI::App* group = app.add_subcommand(name, description);
  group->require_subcommand(1);
  return group;
}

// Exit codes shared by all commands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // the input or the run failed (message on stderr)
inline constexpr int kExitUsage = 2;  // bad command line

// Thrown by a command to end with a given exit code after printing nothing more.
struct ExitCode {
  int code;
};

}  // namespace omni::cli
