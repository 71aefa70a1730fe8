// The models glint knows by name ("fast", "smart"), where they live on disk,
// and how a user gets them.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace glint::engine {

struct CatalogEntry {
  const char* name;         // "fast"
  const char* file;         // file name under ModelsDir()
  const char* description;
};

const std::vector<CatalogEntry>& Catalog();

// $GLINT_HOME/models, or ~/.cache/glint/models.
std::string ModelsDir();

// Resolves "fast" / "smart" to the installed file, or returns `spec` as a
// path. A known name whose file is missing gives NotFound with the command
// that fetches it.
Result<std::string> ResolveModel(const std::string& spec);

}  // namespace glint::engine
