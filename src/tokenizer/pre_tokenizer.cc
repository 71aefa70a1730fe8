#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>

#include "base/check.h"

namespace glint::tokenizer {
namespace {

// The regexes below are the reference's (llama-vocab.cpp, llm_tokenizer_bpe),
// in its own spelling.
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct PreType {
  std::array<const char*, 8> names;  // tokenizer.ggml.pre values
  std::vector<std::string> regexes;
  bool ignore_merges;
};

const std::vector<PreType>& PreTypes() {
  static const std::vector<PreType> types = {
      {{"default"},
       {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"},
       false},
      {{"gpt2", "gpt-2", "mpt", "olmo", "jais"}, {kGpt2}, false},
      {{"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"},
       {R"(\p{N})", kGpt2},
       false},
      {{"qwen2", "stablelm2"}, {kQwen2}, false},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3"}, {kLlama3}, true},
      {{"dbrx", "smaug-bpe"}, {kLlama3}, false},
      {{"deepseek-coder"},
       {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", "[一-龥ࠀ-一가-퟿]+", R"(\p{N})"},
       false},
  };
  return types;
}

// The reference's whitespace set (Unicode White_Space), as class contents.
constexpr const char* kWhitespaceClass =
    R"(\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

}  // namespace

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Compiled() { pcre2_code_free(code); }
};

PreTokenizer::~PreTokenizer() {
  for (Compiled* c : compiled_) delete c;
}

std::string PreTokenizer::SupportedNames() {
  std::string s;
  for (const PreType& t : PreTypes()) {
    for (const char* n : t.names) {
      if (!n) break;
      if (!s.empty()) s += ", ";
      s += n;
    }
  }
  return s;
}

std::string PreTokenizer::TranslateRegex(std::string_view regex) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < regex.size(); ++i) {
    const char c = regex[i];
    if (c == '\\' && i + 1 < regex.size()) {
      const char n = regex[++i];
      if (n == 's') {
        out += in_class ? kWhitespaceClass : std::string("[") + kWhitespaceClass + "]";
      } else if (n == 'S') {
        CHECK(!in_class);  // no reference regex has \S inside a class
        out += std::string("[^") + kWhitespaceClass + "]";
      } else {
        out += c;
        out += n;
      }
      continue;
    }
    if (c == '[' && !in_class) in_class = true;
    else if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::Create(std::string_view pre) {
  const PreType* type = nullptr;
  for (const PreType& t : PreTypes()) {
    for (const char* n : t.names) {
      if (n && pre == n) type = &t;
    }
  }
  if (!type) {
    return Error(StatusCode::kUnimplemented,
                 "tokenizer.ggml.pre = \"{}\" is not a supported pre-tokenizer (supported: {})",
                 pre, SupportedNames());
  }
  std::unique_ptr<PreTokenizer> p(new PreTokenizer());
  p->sources_ = type->regexes;
  p->ignore_merges_ = type->ignore_merges;
  for (const std::string& source : p->sources_) {
    const std::string pattern = TranslateRegex(source);
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP, &err, &err_offset, nullptr);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      return Error(StatusCode::kInternal, "pre-tokenizer regex /{}/ does not compile at {}: {}",
                   pattern, err_offset, reinterpret_cast<const char*>(msg));
    }
    auto* c = new Compiled();
    c->code = code;
    c->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    p->compiled_.push_back(c);
  }
  return p;
}

void PreTokenizer::Split(std::string_view text, std::vector<std::string_view>* pieces) const {
  if (text.empty()) return;
  std::vector<std::string_view> current{text}, next;
  for (size_t r = 0; r < compiled_.size(); ++r) {
    const Compiled& re = *compiled_[r];
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(re.code, nullptr);
    CHECK(md != nullptr);
    next.clear();
    for (std::string_view piece : current) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
      size_t start = 0, prev_end = 0;
      while (start < piece.size()) {
        int rc = pcre2_match(re.code, subject, piece.size(), start, PCRE2_NO_UTF_CHECK, md,
                             nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
          // A very long run can exhaust the JIT stack; the interpreter keeps
          // its backtracking state on the heap.
          rc = pcre2_match(re.code, subject, piece.size(), start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                           md, nullptr);
        }
        if (rc < 0) break;  // no match (or a resource limit): the rest is one piece
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t m_begin = ov[0], m_end = ov[1];
        if (m_end == m_begin) {  // no reference regex matches empty; step over one character
          start = m_begin + 1;
          while (start < piece.size() && (static_cast<uint8_t>(piece[start]) & 0xC0) == 0x80) ++start;
          continue;
        }
        if (m_begin > prev_end) next.push_back(piece.substr(prev_end, m_begin - prev_end));
        next.push_back(piece.substr(m_begin, m_end - m_begin));
        prev_end = start = m_end;
      }
      if (prev_end < piece.size()) next.push_back(piece.substr(prev_end));
    }
    pcre2_match_data_free(md);
    std::swap(current, next);
  }
  pieces->insert(pieces->end(), current.begin(), current.end());
}

}  // namespace glint::tokenizer
