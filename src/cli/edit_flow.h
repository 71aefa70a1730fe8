// The edit flow of glint edit, shared with glint chat's /edit: ask a server
// for the edited file with the old one as the prediction, stream it, show
// the diff, and write it atomically once confirmed.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "client/http_client.h"

namespace glint::cli {

// Twice the file must fit the context (prompt + answer): 8K tokens of
// context hold files of a few hundred lines.
inline constexpr size_t kMaxEditFileBytes = 256 * 1024;

struct EditOptions {
  std::string file;
  std::string instruction;
  std::string api_key;  // for a server started with --keys
  bool yes = false;      // write without asking
  bool dry_run = false;  // never write
  bool json = false;     // one JSON object on stdout instead of the diff
  // Asks whether to write; unset: a y/N question on stdin.
  std::function<bool(const std::string& question)> confirm;
};

// Runs one edit against the server at `url` with `model`; returns the exit
// code (0: written, unchanged, or a dry run).
int RunEdit(const EditOptions& options, const client::Url& url, const std::string& model);

}  // namespace glint::cli
