// glint: a real-time code model server. This binary holds every entry point.
#include <cstdio>
#include <map>
#include <string>

#include "base/log.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"glint: fast local code model server and tools"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "glint 0.1.0");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log debugging information to stderr");

  std::map<CLI::App*, glint::cli::Runner> runners;
  auto add = [&](glint::cli::Runner (*fn)(CLI::App&)) {
    size_t before = app.get_subcommands({}).size();
    glint::cli::Runner r = fn(app);
    auto subs = app.get_subcommands({});
    if (subs.size() > before) runners[subs.back()] = std::move(r);
  };
  add(glint::cli::AddServeCommand);
  add(glint::cli::AddChatCommand);
  add(glint::cli::AddEditCommand);
  add(glint::cli::AddRunCommand);
  add(glint::cli::AddTokenizeCommand);
  add(glint::cli::AddModelsCommand);
  add(glint::cli::AddBenchCommand);
  add(glint::cli::AddKeysCommand);

  CLI11_PARSE(app, argc, argv);
  glint::SetLogLevel(verbose ? glint::LogLevel::kDebug : glint::LogLevel::kWarning);
  for (auto& [sub, run] : runners) {
    if (sub->parsed()) return run();
  }
  return 2;
}
