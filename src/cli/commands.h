// Subcommands of the glint binary. Each registers its options on the CLI11
// app and returns the function that runs it.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace glint::cli {

using Runner = std::function<int()>;

Runner AddRunCommand(CLI::App& app);
Runner AddTokenizeCommand(CLI::App& app);
Runner AddModelsCommand(CLI::App& app);
Runner AddBenchCommand(CLI::App& app);
Runner AddServeCommand(CLI::App& app);
Runner AddEditCommand(CLI::App& app);
Runner AddKeysCommand(CLI::App& app);
Runner AddChatCommand(CLI::App& app);

}  // namespace glint::cli
