#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <bit>

#include "tokenizer/utf8.h"

namespace glint::tokenizer {
namespace {

// The reference (llama_vocab::load) recognises some tokens by their text
// alone, whatever their type in the file: these end generation, and count as
// CONTROL tokens (so, with parse_special, they are matched in text: Qwen2.5's
// ordinary token "</s>" is one of them).
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    // FIM pad / repo / file separator: a completion is over after them.
    "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", "<|fim_repo|>", "<|repo_name|>",
    "<fim-repo>", "<REPO>", "<reponame>", "<|file_sep|>",
};
// FIM prefix / suffix / middle markers: CONTROL, but not end of generation.
constexpr std::string_view kFimTexts[] = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>", "<|code_prefix|>", "<|prefix|>",
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<SUF>", "<|code_suffix|>", "<|suffix|>",
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<MID>", "<|code_middle|>", "<|middle|>",
};
// gpt-oss's channel markers are always USER_DEFINED in the reference.
constexpr std::string_view kUserDefinedTexts[] = {
    "<|channel|>", "<|message|>", "<|start|>", "<|constrain|>",
};

Result<const gguf::Value*> GetTypedArray(const gguf::GgufFile& file, std::string_view key,
                                         bool want_strings) {
  ASSIGN_OR_RETURN(const gguf::Value* v, file.GetArray(key));
  const bool ok = want_strings ? v->array_type == gguf::ValueType::kString
                               : (v->array.empty() || v->array[0].IsInteger());
  if (!ok) {
    return Error(StatusCode::kInvalidArgument, "{} must be an array of {}, found an array of {}",
                 key, want_strings ? "strings" : "integers", gguf::ValueTypeName(v->array_type));
  }
  return v;
}

Result<TokenId> GetTokenIdOr(const gguf::GgufFile& file, std::string_view key, int64_t n_vocab) {
  ASSIGN_OR_RETURN(int64_t id, file.GetIntOr(key, -1));
  if (id < -1 || id >= n_vocab) {
    return Error(StatusCode::kOutOfRange, "{} = {} is not a token id (the vocabulary has {})",
                 key, id, n_vocab);
  }
  return static_cast<TokenId>(id);
}

}  // namespace

struct BpeTokenizer::Scratch {
  struct Symbol {
    TokenId id;
    int prev;
    int next;
  };
  struct Bigram {
    int32_t rank;
    int left;
    int right;
    TokenId left_id;
    TokenId right_id;
    TokenId result;
  };
  std::vector<std::string_view> pieces;
  std::vector<Symbol> symbols;
  std::vector<Bigram> queue;
  std::string encoded;
};

void BpeTokenizer::MergeTable::Reserve(size_t n) {
  const size_t capacity = std::bit_ceil(std::max<size_t>(16, n * 2));
  slots_.assign(capacity, Entry{});
  shift_ = 64 - std::countr_zero(capacity);
  size_ = 0;
}

void BpeTokenizer::MergeTable::Insert(TokenId left, TokenId right, int32_t rank, TokenId result) {
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
                       static_cast<uint32_t>(right);
  const size_t mask = slots_.size() - 1;
  for (size_t s = Slot(key);; s = (s + 1) & mask) {
    if (slots_[s].key == key) return;
    if (slots_[s].key == kEmpty) {
      slots_[s] = Entry{key, rank, result};
      ++size_;
      return;
    }
  }
}

const BpeTokenizer::MergeTable::Entry* BpeTokenizer::MergeTable::Find(TokenId left,
                                                                      TokenId right) const {
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
                       static_cast<uint32_t>(right);
  const size_t mask = slots_.size() - 1;
  for (size_t s = Slot(key);; s = (s + 1) & mask) {
    if (slots_[s].key == key) return &slots_[s];
    if (slots_[s].key == kEmpty) return nullptr;
  }
}

uint64_t BpeTokenizer::TextIndex::Hash(std::string_view s) {
  // FNV-1a, then a multiplicative mix for the high bits used as the slot.
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h * 0x9E3779B97F4A7C15ull;
}

void BpeTokenizer::TextIndex::Build(const BpeTokenizer& vocab) {
  const size_t capacity = std::bit_ceil(std::max<size_t>(16, vocab.types_.size() * 2));
  slots_.assign(capacity, -1);
  shift_ = 64 - std::countr_zero(capacity);
  const size_t mask = capacity - 1;
  for (TokenId id = 0; id < vocab.n_vocab(); ++id) {
    const std::string_view text = vocab.TokenText(id);
    for (size_t s = Hash(text) >> shift_;; s = (s + 1) & mask) {
      if (slots_[s] < 0 || vocab.TokenText(slots_[s]) == text) {
        slots_[s] = id;  // a repeated text maps to its last id, as in the reference
        break;
      }
    }
  }
}

TokenId BpeTokenizer::TextIndex::Find(const BpeTokenizer& vocab, std::string_view text) const {
  if (slots_.empty()) return -1;
  const size_t mask = slots_.size() - 1;
  for (size_t s = Hash(text) >> shift_;; s = (s + 1) & mask) {
    if (slots_[s] < 0) return -1;
    if (vocab.TokenText(slots_[s]) == text) return slots_[s];
  }
}

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::Create(const gguf::GgufFile& file) {
  std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());

  // Pre-tokenizer. The reference treats a missing key as "default".
  std::string_view pre = "default";
  if (file.Find("tokenizer.ggml.pre")) {
    ASSIGN_OR_RETURN(pre, file.GetString("tokenizer.ggml.pre"));
  }
  ASSIGN_OR_RETURN(t->pre_, PreTokenizer::Create(pre));

  // Tokens, copied so that the tokenizer does not depend on the file's mapping.
  ASSIGN_OR_RETURN(const gguf::Value* tokens, GetTypedArray(file, "tokenizer.ggml.tokens", true));
  const size_t n = tokens->array.size();
  if (n == 0) {
    return Error(StatusCode::kInvalidArgument, "tokenizer.ggml.tokens is empty");
  }
  if (n > static_cast<size_t>(INT32_MAX / 2)) {
    return Error(StatusCode::kOutOfRange, "tokenizer.ggml.tokens has {} entries, too many", n);
  }
  size_t total = 0;
  for (const gguf::Value& v : tokens->array) total += v.s.size();
  if (total > UINT32_MAX) {
    return Error(StatusCode::kOutOfRange, "tokenizer.ggml.tokens holds {} bytes of text, too many",
                 total);
  }
  t->arena_.reserve(total);
  t->text_offset_.reserve(n + 1);
  for (const gguf::Value& v : tokens->array) {
    t->text_offset_.push_back(static_cast<uint32_t>(t->arena_.size()));
    t->arena_.append(v.s);
  }
  t->text_offset_.push_back(static_cast<uint32_t>(t->arena_.size()));
  t->types_.assign(n, TokenType::kNormal);  // n_vocab() comes from types_
  t->text_index_.Build(*t);

  // Token types (optional: NORMAL when absent).
  if (file.Find("tokenizer.ggml.token_type")) {
    ASSIGN_OR_RETURN(const gguf::Value* types,
                     GetTypedArray(file, "tokenizer.ggml.token_type", false));
    if (types->array.size() != n) {
      return Error(StatusCode::kInvalidArgument,
                   "tokenizer.ggml.token_type has {} entries but tokenizer.ggml.tokens has {}",
                   types->array.size(), n);
    }
    for (size_t id = 0; id < n; ++id) {
      const int64_t ty = types->array[id].i;
      if (ty < 1 || ty > 6) {
        return Error(StatusCode::kInvalidArgument,
                     "tokenizer.ggml.token_type[{}] = {}, expected 1..6 (normal, unknown, control, "
                     "user-defined, unused, byte)",
                     id, ty);
      }
      t->types_[id] = static_cast<TokenType>(ty);
    }
  }

  // Types the reference gives by token text (see kEogTexts).
  for (std::string_view text : kEogTexts) {
    const TokenId id = t->Find(text);
    if (id >= 0) t->types_[id] = TokenType::kControl;
  }
  for (std::string_view text : kFimTexts) {
    const TokenId id = t->Find(text);
    if (id >= 0) t->types_[id] = TokenType::kControl;
  }
  for (std::string_view text : kUserDefinedTexts) {
    const TokenId id = t->Find(text);
    if (id >= 0) t->types_[id] = TokenType::kUserDefined;
  }

  // The token of each byte, in its printable byte-level form.
  for (int b = 0; b < 256; ++b) {
    std::string s;
    AppendUtf8(ByteToCodepoint(static_cast<uint8_t>(b)), &s);
    t->byte_token_[b] = t->Find(s);
  }

  // Merges: "left right", ranked by position.
  ASSIGN_OR_RETURN(const gguf::Value* merges, GetTypedArray(file, "tokenizer.ggml.merges", true));
  t->merges_.Reserve(merges->array.size());
  std::string joined;
  for (size_t rank = 0; rank < merges->array.size(); ++rank) {
    const std::string_view m = merges->array[rank].s;
    const size_t space = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
    if (space == std::string_view::npos) {
      return Error(StatusCode::kInvalidArgument,
                   "tokenizer.ggml.merges[{}] = \"{}\" is not two tokens separated by a space",
                   rank, m);
    }
    const std::string_view left = m.substr(0, space), right = m.substr(space + 1);
    const TokenId l = t->Find(left), r = t->Find(right);
    joined.assign(left);
    joined.append(right);
    const TokenId result = t->Find(joined);
    if (l < 0 || r < 0 || result < 0) {
      return Error(StatusCode::kInvalidArgument,
                   "tokenizer.ggml.merges[{}] = \"{}\" names a token that is not in "
                   "tokenizer.ggml.tokens: \"{}\"",
                   rank, m, l < 0 ? left : r < 0 ? right : std::string_view(joined));
    }
    t->merges_.Insert(l, r, static_cast<int32_t>(rank), result);
  }

  // Special tokens: longest text first; ties by id, for a stable order.
  for (size_t id = 0; id < n; ++id) {
    if (t->IsSpecial(static_cast<TokenId>(id)) && !t->TokenText(static_cast<TokenId>(id)).empty()) {
      t->specials_.push_back(static_cast<TokenId>(id));
    }
  }
  std::stable_sort(t->specials_.begin(), t->specials_.end(), [&](TokenId a, TokenId b) {
    return t->TokenText(a).size() > t->TokenText(b).size();
  });

  const auto n_vocab = static_cast<int64_t>(n);
  ASSIGN_OR_RETURN(t->bos_, GetTokenIdOr(file, "tokenizer.ggml.bos_token_id", n_vocab));
  ASSIGN_OR_RETURN(t->eos_, GetTokenIdOr(file, "tokenizer.ggml.eos_token_id", n_vocab));
  ASSIGN_OR_RETURN(TokenId eot, GetTokenIdOr(file, "tokenizer.ggml.eot_token_id", n_vocab));
  ASSIGN_OR_RETURN(TokenId eom, GetTokenIdOr(file, "tokenizer.ggml.eom_token_id", n_vocab));
  t->add_bos_ = t->pre_->ignore_merges();  // LLaMA-3 adds BOS unless told otherwise
  if (file.Find("tokenizer.ggml.add_bos_token")) {
    ASSIGN_OR_RETURN(t->add_bos_, file.GetBool("tokenizer.ggml.add_bos_token"));
  }
  if (t->bos_ < 0) t->add_bos_ = false;

  t->eog_.assign(n, 0);
  for (TokenId id : {t->eos_, eot, eom}) {
    if (id >= 0) t->eog_[id] = 1;
  }
  for (std::string_view text : kEogTexts) {
    const TokenId id = t->Find(text);
    if (id >= 0) t->eog_[id] = 1;
  }
  return t;
}

std::string_view BpeTokenizer::TokenText(TokenId id) const {
  if (id < 0 || id >= n_vocab()) return {};
  return std::string_view(arena_).substr(text_offset_[id], text_offset_[id + 1] - text_offset_[id]);
}

TokenType BpeTokenizer::token_type(TokenId id) const {
  if (id < 0 || id >= n_vocab()) return TokenType::kUnknown;
  return types_[id];
}

TokenId BpeTokenizer::Find(std::string_view text) const {
  return text_index_.Find(*this, text);
}

bool BpeTokenizer::IsEndOfGeneration(TokenId id) const {
  return id >= 0 && id < n_vocab() && eog_[id];
}

std::string BpeTokenizer::TokenBytes(TokenId id) const {
  const std::string_view text = TokenText(id);
  switch (token_type(id)) {
    case TokenType::kControl:
    case TokenType::kUserDefined:
    case TokenType::kUnknown:
      return std::string(text);
    case TokenType::kByte:
      // "<0xAB>"
      if (text.size() == 6 && text.substr(0, 3) == "<0x" && text[5] == '>') {
        return std::string(1, static_cast<char>(std::stoi(std::string(text.substr(3, 2)), nullptr, 16)));
      }
      return std::string(text);
    case TokenType::kNormal:
    case TokenType::kUnused:
      break;
  }
  // Each code point of a byte-level piece stands for one byte; any other
  // code point is kept as it is (as the reference's llama_decode_text does).
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const int len = Utf8SequenceLength(text.substr(i));
    if (len <= 0) {  // not valid UTF-8: copy the byte
      out.push_back(text[i++]);
      continue;
    }
    uint32_t cpt = static_cast<uint8_t>(text[i]);
    if (len > 1) {
      cpt &= 0xFF >> (len + 1);
      for (int k = 1; k < len; ++k) cpt = (cpt << 6) | (static_cast<uint8_t>(text[i + k]) & 0x3F);
    }
    const int b = CodepointToByte(cpt);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
    } else {
      out.append(text.substr(i, len));
    }
    i += len;
  }
  return out;
}

std::vector<TokenId> BpeTokenizer::Encode(std::string_view text, bool add_bos,
                                          bool parse_special) const {
  std::vector<TokenId> out;
  if (add_bos && bos_ >= 0) out.push_back(bos_);
  if (text.empty()) return out;
  out.reserve(out.size() + text.size() / 3 + 4);

  // 1. Cut special tokens out of the text (see the header for the order).
  struct Fragment {
    TokenId token;  // -1 for raw text
    size_t begin;
    size_t size;
  };
  std::vector<Fragment> fragments{{-1, 0, text.size()}}, next;
  for (TokenId special : specials_) {
    const TokenType type = types_[special];
    if (!parse_special && (type == TokenType::kControl || type == TokenType::kUnknown)) continue;
    const std::string_view s = TokenText(special);
    if (text.find(s) == std::string_view::npos) continue;
    next.clear();
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      const std::string_view raw = text.substr(f.begin, f.size);
      size_t pos = 0;
      for (size_t hit; (hit = raw.find(s, pos)) != std::string_view::npos; pos = hit + s.size()) {
        if (hit > pos) next.push_back({-1, f.begin + pos, hit - pos});
        next.push_back({special, 0, 0});
      }
      if (pos < raw.size()) next.push_back({-1, f.begin + pos, raw.size() - pos});
    }
    std::swap(fragments, next);
  }

  // 2 + 3. Pre-tokenize and merge each raw fragment.
  Scratch scratch;
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out.push_back(f.token);
    } else {
      EncodeFragment(text.substr(f.begin, f.size), &scratch, &out);
    }
  }
  return out;
}

void BpeTokenizer::EncodeFragment(std::string_view text, Scratch* scratch,
                                  std::vector<TokenId>* out) const {
  const std::optional<std::string> sanitized = SanitizeUtf8LikeReference(text);
  const std::string_view clean = sanitized ? std::string_view(*sanitized) : text;
  scratch->pieces.clear();
  pre_->Split(clean, &scratch->pieces);
  for (std::string_view word : scratch->pieces) EncodeWord(word, scratch, out);
}

void BpeTokenizer::EncodeWord(std::string_view word, Scratch* scratch,
                              std::vector<TokenId>* out) const {
  if (pre_->ignore_merges()) {
    scratch->encoded.clear();
    for (char c : word) AppendUtf8(ByteToCodepoint(static_cast<uint8_t>(c)), &scratch->encoded);
    const TokenId whole = Find(scratch->encoded);
    if (whole >= 0) {
      out->push_back(whole);
      return;
    }
  }
  if (word.size() == 1) {
    const TokenId id = byte_token_[static_cast<uint8_t>(word[0])];
    if (id >= 0) out->push_back(id);
    return;
  }

  auto& symbols = scratch->symbols;
  auto& queue = scratch->queue;
  symbols.clear();
  queue.clear();
  const int n = static_cast<int>(word.size());
  for (int i = 0; i < n; ++i) {
    symbols.push_back({byte_token_[static_cast<uint8_t>(word[i])], i - 1, i + 1 < n ? i + 1 : -1});
  }
  // Lowest rank first; among equal ranks the leftmost pair.
  const auto later = [](const Scratch::Bigram& a, const Scratch::Bigram& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  const auto add_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const TokenId l = symbols[left].id, r = symbols[right].id;
    if (l < 0 || r < 0) return;
    const MergeTable::Entry* e = merges_.Find(l, r);
    if (!e) return;
    queue.push_back({e->rank, left, right, l, r, e->result});
    std::push_heap(queue.begin(), queue.end(), later);
  };
  for (int i = 0; i + 1 < n; ++i) add_pair(i, i + 1);

  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), later);
    const Scratch::Bigram b = queue.back();
    queue.pop_back();
    Scratch::Symbol& left = symbols[b.left];
    Scratch::Symbol& right = symbols[b.right];
    // Stale if either side has changed since the pair was queued.
    if (left.id != b.left_id || right.id != b.right_id || left.next != b.right) continue;
    left.id = b.result;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    right.id = -2;  // merged away
    right.next = -1;
    add_pair(left.prev, b.left);
    add_pair(b.left, left.next);
  }
  for (int i = 0; i >= 0; i = symbols[i].next) {
    if (symbols[i].id >= 0) out->push_back(symbols[i].id);
  }
}

}  // namespace glint::tokenizer
