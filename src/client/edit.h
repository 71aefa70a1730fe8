// The parts of `glint edit` that do not talk to a server: reading the file,
// the request that asks for the edit, turning the answer back into a file,
// the diff shown before writing, and the atomic write.
//
// The request (OpenAI Chat Completions) puts the instruction and the file in
// the user turn and starts the answer with the file's opening code fence
// (an assistant prefill), so that the model writes the new file and nothing
// else; the closing fence is the stop sequence. The old file is the
// `prediction`, which the server uses as the draft of speculative decoding:
// the unchanged parts of the file cost a fraction of their decoding time.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace glint::client {

struct EditFile {
  std::string path;
  std::string text;
  mode_t mode = 0644;  // permission bits, kept by the write
};

// Reads a file to edit: a clear error when it is missing, not a regular
// file, larger than max_bytes, or not text (NUL bytes or invalid UTF-8).
Result<EditFile> ReadEditableFile(const std::string& path, size_t max_bytes);

// The code fence's language tag for a file name ("py" -> "python"); "" when
// unknown.
std::string FenceLanguage(const std::string& path);

// The /v1/chat/completions body for an edit.
nlohmann::json EditRequest(const std::string& model, const EditFile& file,
                           const std::string& instruction, int max_tokens);

// The answer (the text after the prefill, up to the closing fence) as the
// new file: the file's trailing newline, which the stop sequence takes, is
// restored. The request's fence is longer than any run of backticks in the
// file, so the file's own code blocks never end the answer.
std::string EditedText(const EditFile& file, const std::string& answer);

// A unified diff (3 lines of context) of a -> b, with ANSI colours when
// `color`; "" when they are equal.
std::string UnifiedDiff(const std::string& a, const std::string& b, const std::string& path,
                        bool color);

// Replaces path's contents atomically: a temporary file beside it, written,
// flushed to disk, given `mode`, then renamed over path (over a symbolic
// link's target, not the link). On any failure the original is untouched
// and the temporary removed.
Status WriteFileAtomically(const std::string& path, const std::string& text, mode_t mode);

}  // namespace glint::client
