#include "tokenizer/tokenizer.h"

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/utf8.h"

namespace glint::tokenizer {

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const gguf::GgufFile& file) {
  ASSIGN_OR_RETURN(std::string_view model, file.GetString("tokenizer.ggml.model"));
  if (model != "gpt2") {
    return Error(StatusCode::kUnimplemented,
                 "tokenizer.ggml.model = \"{}\" is not supported (glint supports \"gpt2\", "
                 "byte-level BPE)",
                 model);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BpeTokenizer> bpe, BpeTokenizer::Create(file));
  return std::unique_ptr<Tokenizer>(std::move(bpe));
}

std::string Tokenizer::Decode(const std::vector<TokenId>& ids) const {
  std::string out;
  for (TokenId id : ids) out += TokenBytes(id);
  return out;
}

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Moves the complete part of *pending to the result: well-formed sequences
// as they are, bytes that cannot start one as U+FFFD. An incomplete sequence
// at the end stays in *pending unless `flush`, when it becomes one U+FFFD.
std::string TakeComplete(std::string* pending, bool flush) {
  std::string out;
  size_t i = 0;
  while (i < pending->size()) {
    const int n = Utf8SequenceLength(std::string_view(*pending).substr(i));
    if (n > 0) {
      out.append(*pending, i, n);
      i += n;
    } else if (n < 0) {
      out += kReplacement;
      ++i;
    } else if (flush) {  // incomplete tail
      out += kReplacement;
      i = pending->size();
    } else {
      break;
    }
  }
  pending->erase(0, i);
  return out;
}

}  // namespace

std::string StreamDecoder::Push(TokenId id) {
  pending_ += tokenizer_.TokenBytes(id);
  return TakeComplete(&pending_, /*flush=*/false);
}

std::string StreamDecoder::Flush() { return TakeComplete(&pending_, /*flush=*/true); }

}  // namespace glint::tokenizer
