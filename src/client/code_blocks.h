// Shows a streamed Markdown answer on a terminal with its fenced code
// blocks set apart (in colour). Text arrives in arbitrary pieces, so a
// line's start is held back until it is known whether it opens or closes a
// fence; everything else is passed through as it comes.
#pragma once

#include <string>

namespace glint::client {

class CodeBlockStyler {
 public:
  // colour: ANSI escapes around code and fence lines; without, the text
  // comes out unchanged.
  explicit CodeBlockStyler(bool colour) : colour_(colour) {}

  // Adds a piece of the answer; returns what can be written now.
  std::string Push(const std::string& piece);
  // The end of the answer: what was held back, and a reset of the colour.
  std::string Finish();
  bool in_code() const { return in_code_; }

 private:
  std::string Emit(const std::string& text);  // text of the current line, coloured as it stands

  bool colour_;
  bool in_code_ = false;    // inside a fenced block
  bool line_start_ = true;  // the next character begins a line
  std::string held_;        // the start of a line that may be a fence
  bool fence_line_ = false; // the current line is a fence line
};

}  // namespace glint::client
