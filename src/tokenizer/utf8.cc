#include "tokenizer/utf8.h"

#include <array>

namespace glint::tokenizer {
namespace {

bool IsSelfMapped(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteTables {
  std::array<uint32_t, 256> byte_to_cpt{};
  std::array<int16_t, 0x144> cpt_to_byte{};  // every mapped code point is below U+0144
  ByteTables() {
    cpt_to_byte.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      byte_to_cpt[b] = IsSelfMapped(b) ? b : 0x100 + n++;
      cpt_to_byte[byte_to_cpt[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteTables& Tables() {
  static const ByteTables tables;
  return tables;
}

// The reference's decoder (unicode_cpt_from_utf8): the lead byte decides the
// length; only the continuation bytes' top bits are checked. Returns the code
// point and advances *pos, or returns -1 and advances by one byte.
int64_t DecodeLenient(std::string_view s, size_t* pos) {
  const auto at = [&](size_t k) { return static_cast<uint8_t>(s[*pos + k]); };
  const auto cont = [&](size_t k) { return *pos + k < s.size() && (at(k) & 0xC0) == 0x80; };
  const uint8_t b0 = at(0);
  if (!(b0 & 0x80)) {
    *pos += 1;
    return b0;
  }
  if (!(b0 & 0x40)) {
    *pos += 1;
    return -1;
  }
  if (!(b0 & 0x20)) {
    if (!cont(1)) { *pos += 1; return -1; }
    const int64_t c = ((b0 & 0x1F) << 6) | (at(1) & 0x3F);
    *pos += 2;
    return c;
  }
  if (!(b0 & 0x10)) {
    if (!cont(1) || !cont(2)) { *pos += 1; return -1; }
    const int64_t c = ((b0 & 0x0F) << 12) | ((at(1) & 0x3F) << 6) | (at(2) & 0x3F);
    *pos += 3;
    return c;
  }
  if (!(b0 & 0x08)) {
    if (!cont(1) || !cont(2) || !cont(3)) { *pos += 1; return -1; }
    const int64_t c = ((b0 & 0x07) << 18) | ((at(1) & 0x3F) << 12) | ((at(2) & 0x3F) << 6) |
                      (at(3) & 0x3F);
    *pos += 4;
    return c;
  }
  *pos += 1;
  return -1;
}

}  // namespace

void AppendUtf8(uint32_t cpt, std::string* out) {
  if (cpt <= 0x7F) {
    out->push_back(static_cast<char>(cpt));
  } else if (cpt <= 0x7FF) {
    out->push_back(static_cast<char>(0xC0 | (cpt >> 6)));
    out->push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt <= 0xFFFF) {
    out->push_back(static_cast<char>(0xE0 | (cpt >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cpt >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  }
}

uint32_t ByteToCodepoint(uint8_t byte) { return Tables().byte_to_cpt[byte]; }

int CodepointToByte(uint32_t cpt) {
  return cpt < Tables().cpt_to_byte.size() ? Tables().cpt_to_byte[cpt] : -1;
}

int Utf8SequenceLength(std::string_view s) {
  if (s.empty()) return 0;
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = b(0);
  if (b0 < 0x80) return 1;
  int n;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return -1;
  }
  for (int k = 1; k < n; ++k) {
    if (static_cast<size_t>(k) >= s.size()) return 0;  // incomplete so far
    const uint8_t lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xBF;
    if (b(k) < lo_k || b(k) > hi_k) return -1;
  }
  return n;
}

std::optional<std::string> SanitizeUtf8LikeReference(std::string_view text) {
  // Fast path: well-formed text is left alone.
  size_t i = 0;
  while (i < text.size()) {
    const uint8_t c = static_cast<uint8_t>(text[i]);
    if (c < 0x80) { ++i; continue; }
    const int n = Utf8SequenceLength(text.substr(i));
    if (n <= 0) break;
    i += n;
  }
  if (i == text.size()) return std::nullopt;

  std::string out(text.substr(0, i));
  out.reserve(text.size() + 16);
  size_t pos = i;
  while (pos < text.size()) {
    int64_t cpt = DecodeLenient(text, &pos);
    if (cpt < 0 || (cpt >= 0xD800 && cpt <= 0xDFFF) || cpt > 0x10FFFF) cpt = 0xFFFD;
    AppendUtf8(static_cast<uint32_t>(cpt), &out);
  }
  return out;
}

}  // namespace glint::tokenizer
