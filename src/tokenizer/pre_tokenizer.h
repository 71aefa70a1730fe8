// Pre-tokenization for byte-level BPE: the regex lists that the reference
// (llama.cpp, llama-vocab.cpp) uses for each tokenizer.ggml.pre value, run
// with PCRE2 (UTF + UCP, JIT when available).
//
// The regexes apply in sequence, as in the reference's unicode_regex_split:
// each one splits every piece left by the previous one into its matches and
// the unmatched text between them (which is kept as a piece of its own).
// Each piece is matched as its own subject, so a lookahead never sees past
// the piece.
//
// How the reference's matching differs from plain PCRE2, and what is emulated:
// - `\s` is the reference's whitespace set (the Unicode White_Space property:
//   \t..\r, space, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029,
//   U+202F, U+205F, U+3000), written out as a class: PCRE2 10.42's \s under
//   UCP leaves out U+0085. `\S` is its complement.
// - The reference runs the GPT-2 and LLaMA-3 regexes through hand-written
//   matchers working on code points with category flags, and the others
//   through std::regex on a "collapsed" text (each non-ASCII code point
//   replaced by a byte standing for its category). Both give the leftmost-
//   first backtracking semantics of the regexes as written, including
//   `\s+(?!\S)` leaving the last space of a run to the next word, so PCRE2
//   with the same classes gives the same pieces. The remaining difference is
//   the Unicode version of the category tables (PCRE2's vs the reference's
//   generated unicode-data.cpp) for code points assigned in between.
// - The `(?i:'s|'t|...)` of the LLaMA-3 / Qwen2 regexes is written with
//   explicit [sS] classes, as the reference does, so that Unicode case
//   folding (e.g. U+017F, U+212A) does not apply.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace glint::tokenizer {

class PreTokenizer {
 public:
  // `pre` is the tokenizer.ggml.pre value ("default" when the key is absent).
  static Result<std::unique_ptr<PreTokenizer>> Create(std::string_view pre);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // The pre-tokenizer names glint knows, for error messages.
  static std::string SupportedNames();

  // Splits well-formed UTF-8 `text` into pieces (views into `text`),
  // appending them to *pieces. Thread-safe.
  void Split(std::string_view text, std::vector<std::string_view>* pieces) const;

  // The reference's regexes, as written in llama-vocab.cpp.
  const std::vector<std::string>& regexes() const { return sources_; }
  // LLaMA-3 vocabularies look a whole pre-token up before running merges.
  bool ignore_merges() const { return ignore_merges_; }

  // Rewrites `\s` / `\S` (inside and outside classes) to the reference's
  // whitespace set, for PCRE2. Exposed for tests.
  static std::string TranslateRegex(std::string_view regex);

 private:
  struct Compiled;
  PreTokenizer() = default;

  std::vector<std::string> sources_;
  std::vector<Compiled*> compiled_;
  bool ignore_merges_ = false;
};

}  // namespace glint::tokenizer
