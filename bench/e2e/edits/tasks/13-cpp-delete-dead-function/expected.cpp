// text_normalize.cpp - input normalization applied before tokenization.
//
// Models are sensitive to invisible differences in the prompt (CRLF line
// endings, non-breaking spaces, stray BOMs). The server normalizes prompts the
// same way the training data was normalized.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace text {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr std::string_view kNbsp = "\xC2\xA0";

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

// Length of the UTF-8 sequence introduced by lead byte `b`, or 0 if `b` is
// not a valid lead byte.
size_t utf8_seq_len(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b >> 5) == 0x6) return 2;
  if ((b >> 4) == 0xE) return 3;
  if ((b >> 3) == 0x1E) return 4;
  return 0;
}

}  // namespace

// Replaces invalid UTF-8 bytes with U+FFFD so the tokenizer never sees them.
std::string sanitize_utf8(std::string_view in) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    const size_t n = utf8_seq_len(static_cast<unsigned char>(in[i]));
    bool ok = n > 0 && i + n <= in.size();
    for (size_t k = 1; ok && k < n; ++k) {
      ok = (static_cast<unsigned char>(in[i + k]) & 0xC0) == 0x80;
    }
    if (ok) {
      out.append(in.substr(i, n));
      i += n;
    } else {
      out.append(kReplacement);
      ++i;
    }
  }
  return out;
}

// Strips a leading BOM, converts CRLF and lone CR to LF, and replaces
// non-breaking spaces with ordinary spaces.
std::string normalize_prompt(std::string_view in) {
  if (starts_with(in, kUtf8Bom)) {
    in.remove_prefix(kUtf8Bom.size());
  }
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\r') {
      out.push_back('\n');
      if (i + 1 < in.size() && in[i + 1] == '\n') {
        ++i;
      }
      continue;
    }
    if (in.substr(i, kNbsp.size()) == kNbsp) {
      out.push_back(' ');
      i += kNbsp.size() - 1;
      continue;
    }
    out.push_back(c);
  }
  return sanitize_utf8(out);
}

}  // namespace text
