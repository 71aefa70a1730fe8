#include "engine/catalog.h"

#include <sys/stat.h>

#include <cstdlib>

#include <fmt/format.h>

namespace glint::engine {

const std::vector<CatalogEntry>& Catalog() {
  // Must agree with models/manifest.json (checked by a test).
  static const std::vector<CatalogEntry> kCatalog = {
      {"fast", "SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct, Q4_1 (llama)"},
      {"smart", "Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf",
       "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (qwen2)"},
  };
  return kCatalog;
}

std::string ModelsDir() {
  if (const char* home = std::getenv("GLINT_HOME"); home && *home) {
    return std::string(home) + "/models";
  }
  const char* user_home = std::getenv("HOME");
  return std::string(user_home && *user_home ? user_home : ".") + "/.cache/glint/models";
}

Result<std::string> ResolveModel(const std::string& spec) {
  for (const CatalogEntry& e : Catalog()) {
    if (spec != e.name) continue;
    std::string path = ModelsDir() + "/" + e.file;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return Error(StatusCode::kNotFound,
                   "the {} model is not installed (looked for {}); fetch it with: "
                   "scripts/fetch-models {}", e.name, path, e.name);
    }
    return path;
  }
  return spec;
}

}  // namespace glint::engine
