// glint models: the installed models with architecture, quantization, size.
#include <sys/stat.h>

#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.h"
#include "engine/catalog.h"
#include "gguf/gguf.h"
#include "model/hparams.h"

namespace glint::cli {
namespace {

int ListModels() {
  std::string dir = engine::ModelsDir();
  fmt::print("models in {}\n", dir);
  fmt::print("{:<6} {:<8} {:<8} {:>9} {:>7}  {}\n", "name", "arch", "quant", "size", "ctx",
             "file");
  int missing = 0;
  for (const auto& e : engine::Catalog()) {
    std::string path = dir + "/" + e.file;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      fmt::print("{:<6} {:<8} {:<8} {:>9} {:>7}  {} (not installed: scripts/fetch-models {})\n",
                 e.name, "-", "-", "-", "-", e.file, e.name);
      ++missing;
      continue;
    }
    auto file = gguf::GgufFile::Open(path);
    if (!file.ok()) {
      fmt::print("{:<6} unreadable: {}\n", e.name, file.status().message());
      continue;
    }
    auto hp = model::ReadHParams(**file);
    std::string quant = (*file)->DominantTypeName();
    fmt::print("{:<6} {:<8} {:<8} {:>6.1f} MB {:>7}  {}\n", e.name,
               hp.ok() ? hp->arch : "?", quant, st.st_size / 1e6,
               hp.ok() ? std::to_string(hp->n_ctx_train) : "?", e.file);
  }
  return 0;
}

}  // namespace

Runner AddModelsCommand(CLI::App& app) {
  app.add_subcommand("models", "List the installed models");
  return [] { return ListModels(); };
}

}  // namespace glint::cli
