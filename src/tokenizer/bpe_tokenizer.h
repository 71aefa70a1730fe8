// Byte-level BPE (tokenizer.ggml.model = "gpt2"), as the reference
// (llama.cpp's llm_tokenizer_bpe) does it:
//   1. special tokens are cut out of the text first: every CONTROL,
//      USER_DEFINED and UNKNOWN token, longest text first, each splitting all
//      the text fragments left by the longer ones at each of its occurrences;
//      USER_DEFINED tokens always, CONTROL and UNKNOWN ones only with
//      parse_special (llama-vocab.cpp, tokenizer_st_partition);
//   2. each remaining fragment is decoded leniently (bad bytes -> U+FFFD),
//      split by the pre-tokenizer's regexes, and
//   3. each piece is merged from single bytes by merge rank (lowest rank
//      first, leftmost first among equal ranks); a LLaMA-3 vocabulary first
//      looks the whole piece up (ignore_merges).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace glint::tokenizer {

class BpeTokenizer final : public Tokenizer {
 public:
  static Result<std::unique_ptr<BpeTokenizer>> Create(const gguf::GgufFile& file);

  std::vector<TokenId> Encode(std::string_view text, bool add_bos,
                              bool parse_special) const override;
  std::string TokenBytes(TokenId id) const override;
  int32_t n_vocab() const override { return static_cast<int32_t>(types_.size()); }
  TokenId bos() const override { return bos_; }
  TokenId eos() const override { return eos_; }
  bool IsEndOfGeneration(TokenId id) const override;
  bool add_bos() const override { return add_bos_; }
  TokenId Find(std::string_view text) const override;
  TokenType token_type(TokenId id) const override;
  std::string_view TokenText(TokenId id) const override;

  const PreTokenizer& pre_tokenizer() const { return *pre_; }

 private:
  // (left id, right id) -> (rank, merged id), open addressing.
  class MergeTable {
   public:
    struct Entry {
      uint64_t key = kEmpty;
      int32_t rank = 0;
      TokenId result = 0;
    };
    static constexpr uint64_t kEmpty = ~uint64_t{0};
    void Reserve(size_t n);
    // Keeps the first insertion of a pair (the lowest rank), as the reference.
    void Insert(TokenId left, TokenId right, int32_t rank, TokenId result);
    const Entry* Find(TokenId left, TokenId right) const;
    size_t size() const { return size_; }

   private:
    size_t Slot(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
    std::vector<Entry> slots_;
    int shift_ = 64;
    size_t size_ = 0;
  };

  // Token text -> id, open addressing over ids (texts live in arena_).
  class TextIndex {
   public:
    void Build(const BpeTokenizer& vocab);
    TokenId Find(const BpeTokenizer& vocab, std::string_view text) const;

   private:
    static uint64_t Hash(std::string_view s);
    std::vector<TokenId> slots_;  // -1 = empty
    int shift_ = 64;
  };

  struct Scratch;

  BpeTokenizer() = default;
  void EncodeFragment(std::string_view text, Scratch* scratch, std::vector<TokenId>* out) const;
  void EncodeWord(std::string_view word, Scratch* scratch, std::vector<TokenId>* out) const;

  std::string arena_;                  // all token texts, back to back
  std::vector<uint32_t> text_offset_;  // n_vocab + 1 offsets into arena_
  std::vector<TokenType> types_;
  TextIndex text_index_;
  std::array<TokenId, 256> byte_token_{};  // the token of each single byte, or -1
  MergeTable merges_;
  std::vector<TokenId> specials_;  // matched in text, longest text first
  std::vector<uint8_t> eog_;       // per token: ends generation
  std::unique_ptr<PreTokenizer> pre_;
  TokenId bos_ = -1;
  TokenId eos_ = -1;
  bool add_bos_ = false;
};

}  // namespace glint::tokenizer
