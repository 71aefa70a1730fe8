// The playground's files (web/), compiled into the binary by
// cmake/embed_files.cmake so that `glint serve` needs nothing on disk.
#pragma once

#include <string_view>

namespace glint::server {

struct EmbeddedFile {
  std::string_view path;          // "/app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
};

// The file served at path ("/index.html", "/app.js"), or null.
const EmbeddedFile* FindEmbeddedFile(std::string_view path);

}  // namespace glint::server
