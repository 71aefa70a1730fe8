// libFuzzer target for the tokenizer: arbitrary bytes through Encode (with
// and without special-token parsing) and StreamDecoder. Uses the real fast
// model's vocabulary ($GLINT_HOME/models or ~/.cache/glint/models), so the
// real pre-tokenizer regexes and merges are exercised.
//
// Property checked: for valid UTF-8 input, decoding the ids gives the input
// back (byte-level BPE is lossless), and the stream decoder agrees with the
// one-shot decoder. The exception: bytes the vocabulary has no token for
// (SmolLM2 lacks some control bytes and some bytes of rare UTF-8 sequences) are dropped, exactly as the
// reference drops them; inputs holding such a byte are only checked for
// valid ids.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace {

std::unique_ptr<glint::gguf::GgufFile> g_file;
std::unique_ptr<glint::tokenizer::Tokenizer> g_tok;
bool g_representable[256] = {};  // bytes that some token spells on its own

bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0xFF >> (n + 1));
    for (int k = 1; k < n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* home = std::getenv("GLINT_HOME");
  std::string dir = home ? std::string(home) + "/models"
                         : std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") +
                               "/.cache/glint/models";
  std::string path = dir + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  auto file = glint::gguf::GgufFile::Open(path);
  if (!file.ok()) {
    std::fprintf(stderr, "tokenizer_fuzz: %s (run scripts/fetch-models fast)\n",
                 file.status().message().c_str());
    std::exit(1);
  }
  g_file = std::move(file).value();
  auto tok = glint::tokenizer::Tokenizer::FromGguf(*g_file);
  if (!tok.ok()) {
    std::fprintf(stderr, "tokenizer_fuzz: %s\n", tok.status().message().c_str());
    std::exit(1);
  }
  g_tok = std::move(tok).value();
  for (int32_t id = 0; id < g_tok->n_vocab(); ++id) {
    std::string bytes = g_tok->TokenBytes(id);
    if (bytes.size() == 1) g_representable[static_cast<unsigned char>(bytes[0])] = true;
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1 << 14) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  for (bool special : {false, true}) {
    auto ids = g_tok->Encode(text, /*add_bos=*/false, special);
    for (auto id : ids) {
      if (id < 0 || id >= g_tok->n_vocab()) std::abort();
    }
    std::string decoded = g_tok->Decode(ids);
    glint::tokenizer::StreamDecoder stream(*g_tok);
    std::string streamed;
    for (auto id : ids) streamed += stream.Push(id);
    streamed += stream.Flush();
    bool representable = true;
    for (unsigned char c : text) representable &= g_representable[c];
    if (representable && ValidUtf8(text)) {
      if (decoded != text) std::abort();
      if (streamed != text) std::abort();
    }
  }
  return 0;
}
