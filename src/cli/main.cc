#include <cstdio>
#include <exception>

#include "cli/command.h"
#include "core/error.h"

namespace omni::cli {
std::vector<CommandSetup>& CommandRegistry::all() {
  static std::vector<CommandSetup> commands;
  return commands;
}
}  // namespace omni::cli

int main(int argc, char** argv) {
  using namespace omni::cli;
  CLI::App app{"omni: local speech, vision, language and voice pipeline"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "omni 0.1.0");
  for (auto& setup : CommandRegistry::all()) setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  } catch (const ExitCode& e) {
    return e.code;
  } catch (const omni::Error& e) {
    std::fprintf(stderr, "omni: error: %s\n", e.what());
    return kExitError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "omni: internal error: %s\n", e.what());
    return kExitError;
  }
  return kExitOk;
}
