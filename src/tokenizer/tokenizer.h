// Tokenizer built from a GGUF file's tokenizer.* metadata.
//
// Byte-level BPE (tokenizer.ggml.model = "gpt2") with the pre-tokenizer that
// tokenizer.ggml.pre names. Special and added tokens (types CONTROL and
// USER_DEFINED) are matched in the text before BPE when parse_special is set.
// The vocabulary is immutable and shared; encoding is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"

namespace glint::tokenizer {

using TokenId = int32_t;

// tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // matched in text only with parse_special
  kUserDefined = 4,  // always matched in text before BPE
  kUnused = 5,
  kByte = 6,         // "<0xAB>"
};

class Tokenizer {
 public:
  // Fails with a message naming the missing or malformed key, or the
  // unsupported tokenizer.ggml.model / tokenizer.ggml.pre value.
  static Result<std::unique_ptr<Tokenizer>> FromGguf(const gguf::GgufFile& file);
  virtual ~Tokenizer() = default;

  // Token ids of `text`. add_bos prepends BOS (only if the vocabulary has
  // one); parse_special matches special tokens written in the text, as the
  // reference's tokenize(..., special=true) does.
  virtual std::vector<TokenId> Encode(std::string_view text, bool add_bos,
                                      bool parse_special) const = 0;

  // The bytes a token stands for (byte-level pieces decoded to raw bytes;
  // special tokens give their text). May be an incomplete UTF-8 sequence.
  virtual std::string TokenBytes(TokenId id) const = 0;
  std::string Decode(const std::vector<TokenId>& ids) const;

  virtual int32_t n_vocab() const = 0;
  virtual TokenId bos() const = 0;  // -1 if none
  virtual TokenId eos() const = 0;  // -1 if none
  // End of generation: eos, eot, <|im_end|>, <|endoftext|> and the like.
  virtual bool IsEndOfGeneration(TokenId id) const = 0;
  virtual bool add_bos() const = 0;  // tokenizer.ggml.add_bos_token
  // Looks up a token by its exact text (e.g. "<|fim_prefix|>"); -1 if absent.
  virtual TokenId Find(std::string_view text) const = 0;

  // Additions beyond the first interface (with defaults, so that test doubles
  // need not implement them).
  // The type as the reference uses it: tokenizer.ggml.token_type, except
  // that end-of-turn and FIM markers recognised by their text (e.g. "</s>",
  // "<|fim_prefix|>") are CONTROL whatever the file says.
  virtual TokenType token_type(TokenId id) const { return TokenType::kNormal; }
  // The token's text as stored in the vocabulary (byte-level pieces are in
  // their printable form, e.g. "Ġthe"); empty for an out-of-range id.
  virtual std::string_view TokenText(TokenId id) const { return {}; }
  // CONTROL, USER_DEFINED and UNKNOWN tokens: the ones matched in text.
  bool IsSpecial(TokenId id) const {
    const TokenType t = token_type(id);
    return t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown;
  }
};

// Turns a token stream into text without ever splitting a UTF-8 character:
// bytes of an incomplete character are held back until it completes.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  // Returns the text that became complete with this token (may be empty).
  std::string Push(TokenId id);
  // Returns whatever is held back (invalid bytes become U+FFFD).
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  std::string pending_;
};

}  // namespace glint::tokenizer
