#include "client/code_blocks.h"

namespace glint::client {
namespace {

constexpr const char* kCode = "\033[36m";   // code: cyan
constexpr const char* kFence = "\033[2m";   // ``` lines: dim
constexpr const char* kReset = "\033[0m";

// Whether a line's start so far can still become a fence: up to three
// spaces of indent, then backticks.
bool MayBeFence(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && i < 3 && s[i] == ' ') ++i;
  for (size_t j = i; j < s.size(); ++j) {
    if (s[j] != '`') return false;
  }
  return true;
}

bool IsFence(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && i < 3 && s[i] == ' ') ++i;
  return s.compare(i, 3, "```") == 0;
}

}  // namespace

std::string CodeBlockStyler::Emit(const std::string& text) {
  if (!colour_ || text.empty()) return text;
  const char* style = fence_line_ ? kFence : in_code_ ? kCode : nullptr;
  if (style == nullptr) return text;
  return style + text + kReset;
}

std::string CodeBlockStyler::Push(const std::string& piece) {
  std::string out, run;  // run: characters of the current line, styled together
  auto flush = [&] {
    out += Emit(run);
    run.clear();
  };
  for (char c : piece) {
    if (line_start_) {
      if (c == '\n') {  // a line too short to decide: plain
        out += held_ + '\n';
        held_.clear();
        continue;
      }
      held_ += c;
      if (IsFence(held_)) {
        fence_line_ = true;  // it opens or closes the block at its end
      } else if (MayBeFence(held_)) {
        continue;
      }
      line_start_ = false;
      run = std::move(held_);
      held_.clear();
      continue;
    }
    if (c == '\n') {
      flush();
      if (fence_line_) {
        in_code_ = !in_code_;
        fence_line_ = false;
      }
      out += '\n';
      line_start_ = true;
      continue;
    }
    run += c;
  }
  flush();
  return out;
}

std::string CodeBlockStyler::Finish() {
  std::string out = Emit(held_);
  held_.clear();
  line_start_ = true;
  fence_line_ = false;
  in_code_ = false;
  return out;
}

}  // namespace glint::client
