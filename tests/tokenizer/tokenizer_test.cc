#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gguf/gguf_writer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/utf8.h"

namespace glint::tokenizer {
namespace {

// ---------------------------------------------------------------------------
// A tiny synthetic byte-level BPE vocabulary.

std::string ByteChar(uint8_t b) {
  std::string s;
  AppendUtf8(ByteToCodepoint(b), &s);
  return s;
}

struct VocabSpec {
  std::string model = "gpt2";
  std::string pre = "gpt2";
  std::vector<std::string> specials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool>",
                                       "<x>", "<x>y"};
  std::vector<int32_t> special_types = {3, 3, 3, 4, 4, 4};
  std::vector<std::string> merges = {"h e", "l l", "he ll", "hell o", "Ġ hello", "1 2",
                                     "a b", "b c", "Ġ Ġ"};
  bool write_types = true;
  int type_count_delta = 0;
  int64_t eos = 2;
};

// Tokens: specials, then the 256 byte characters, then each merge result.
struct Vocab {
  std::vector<uint8_t> bytes;
  std::unique_ptr<gguf::GgufFile> file;
};

Vocab BuildVocab(const VocabSpec& spec) {
  std::vector<std::string> tokens = spec.specials;
  std::vector<int32_t> types = spec.special_types;
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(ByteChar(static_cast<uint8_t>(b)));
    types.push_back(1);
  }
  for (const std::string& m : spec.merges) {
    const size_t sp = m.find(' ', 1);
    std::string joined = m.substr(0, sp) + m.substr(sp + 1);
    if (std::find(tokens.begin(), tokens.end(), joined) == tokens.end()) {
      tokens.push_back(joined);
      types.push_back(1);
    }
  }
  types.resize(types.size() + spec.type_count_delta, 1);
  gguf::GgufWriter w;
  w.AddString("general.architecture", "llama");
  if (!spec.model.empty()) w.AddString("tokenizer.ggml.model", spec.model);
  if (!spec.pre.empty()) w.AddString("tokenizer.ggml.pre", spec.pre);
  w.AddStringArray("tokenizer.ggml.tokens", tokens);
  if (spec.write_types) w.AddI32Array("tokenizer.ggml.token_type", types);
  w.AddStringArray("tokenizer.ggml.merges", spec.merges);
  w.AddU32("tokenizer.ggml.bos_token_id", 0);
  w.AddI32("tokenizer.ggml.eos_token_id", static_cast<int32_t>(spec.eos));
  w.AddBool("tokenizer.ggml.add_bos_token", false);
  Vocab v;
  v.bytes = w.Serialize();
  auto f = gguf::GgufFile::Parse(v.bytes.data(), v.bytes.size(), "synthetic.gguf");
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  v.file = std::move(f).value();
  return v;
}

std::unique_ptr<Tokenizer> MakeTokenizer(const VocabSpec& spec, Vocab* keep) {
  *keep = BuildVocab(spec);
  auto t = Tokenizer::FromGguf(*keep->file);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

Status LoadStatus(const VocabSpec& spec) {
  Vocab v = BuildVocab(spec);
  return Tokenizer::FromGguf(*v.file).status();
}

std::vector<std::string> Texts(const Tokenizer& t, const std::vector<TokenId>& ids) {
  std::vector<std::string> out;
  for (TokenId id : ids) out.push_back(t.TokenBytes(id));
  return out;
}

// ---------------------------------------------------------------------------

TEST(ByteMapping, RoundTripsAllBytes) {
  for (int b = 0; b < 256; ++b) {
    const uint32_t cpt = ByteToCodepoint(static_cast<uint8_t>(b));
    EXPECT_EQ(CodepointToByte(cpt), b);
  }
  EXPECT_EQ(ByteToCodepoint(' '), 0x120u);   // 'Ġ'
  EXPECT_EQ(ByteToCodepoint('\n'), 0x10Au);  // 'Ċ'
  EXPECT_EQ(ByteToCodepoint('\t'), 0x109u);  // 'ĉ'
  EXPECT_EQ(ByteToCodepoint('a'), static_cast<uint32_t>('a'));
  EXPECT_EQ(ByteToCodepoint(0xAD), 0x143u);  // the last remapped byte
  EXPECT_EQ(CodepointToByte(0x144), -1);
  EXPECT_EQ(CodepointToByte(0x4F60), -1);
}

TEST(Utf8, SequenceLength) {
  EXPECT_EQ(Utf8SequenceLength("a"), 1);
  EXPECT_EQ(Utf8SequenceLength("\xC3\xA9"), 2);
  EXPECT_EQ(Utf8SequenceLength("\xE4\xBD\xA0"), 3);
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x99\x82"), 4);
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F"), 0);       // incomplete
  EXPECT_EQ(Utf8SequenceLength("\x80"), -1);          // continuation byte
  EXPECT_EQ(Utf8SequenceLength("\xC0\x80"), -1);      // overlong
  EXPECT_EQ(Utf8SequenceLength("\xED\xA0\x80"), -1);  // surrogate
  EXPECT_EQ(Utf8SequenceLength("\xF4\x90\x80\x80"), -1);  // above U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("\xE4\x41"), -1);
}

TEST(Utf8, SanitizeLikeReference) {
  EXPECT_FALSE(SanitizeUtf8LikeReference("plain ascii").has_value());
  EXPECT_FALSE(SanitizeUtf8LikeReference("你好 🙂").has_value());
  EXPECT_EQ(*SanitizeUtf8LikeReference("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  // The reference decodes an overlong NUL to U+0000.
  EXPECT_EQ(*SanitizeUtf8LikeReference("x\xC0\x80"), std::string("x\0", 2));
  // A truncated sequence: the lead byte and then each orphan continuation.
  EXPECT_EQ(*SanitizeUtf8LikeReference("\xE4\xBD"), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(PreTokenizer, TranslatesWhitespaceClasses) {
  EXPECT_EQ(PreTokenizer::TranslateRegex(R"(a\p{L})"), R"(a\p{L})");
  const std::string t = PreTokenizer::TranslateRegex(R"(\s+(?!\S)|[^\s\p{L}])");
  EXPECT_NE(t.find(R"([\t-\r \x{85})"), std::string::npos);
  EXPECT_NE(t.find(R"((?![^\t-\r)"), std::string::npos);
  EXPECT_NE(t.find(R"([^\t-\r \x{85})"), std::string::npos);
  EXPECT_EQ(t.find(R"(\s)"), std::string::npos);
}

std::vector<std::string> Split(std::string_view pre, std::string_view text) {
  auto p = PreTokenizer::Create(pre);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  std::vector<std::string_view> pieces;
  (*p)->Split(text, &pieces);
  return {pieces.begin(), pieces.end()};
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(Split("gpt2", "Hello world"), (Pieces{"Hello", " world"}));
  // \s+(?!\S) leaves the last space to the next word.
  EXPECT_EQ(Split("gpt2", "a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(Split("gpt2", "x  "), (Pieces{"x", "  "}));
  EXPECT_EQ(Split("gpt2", "it's"), (Pieces{"it", "'s"}));
  EXPECT_EQ(Split("gpt2", "IT'S"), (Pieces{"IT", "'", "S"}));  // case-sensitive
  EXPECT_EQ(Split("gpt2", "a\tb"), (Pieces{"a", "\t", "b"}));   // unmatched gap kept
  EXPECT_EQ(Split("gpt2", " 123 ..."), (Pieces{" 123", " ..."}));
}

TEST(PreTokenizer, SmolLmSplitsDigits) {
  EXPECT_EQ(Split("smollm", "abc 123"), (Pieces{"abc", " ", "1", "2", "3"}));
  EXPECT_EQ(Split("smollm", "x\u00b2"), (Pieces{"x", "\u00b2"}));  // ² is \p{N}
}

TEST(PreTokenizer, Qwen2) {
  EXPECT_EQ(Split("qwen2", "Hello, world!"), (Pieces{"Hello", ",", " world", "!"}));
  EXPECT_EQ(Split("qwen2", "IT'S 42"), (Pieces{"IT", "'S", " ", "4", "2"}));
  EXPECT_EQ(Split("qwen2", "  x\n\n  y"), (Pieces{" ", " x", "\n\n", " ", " y"}));
  EXPECT_EQ(Split("qwen2", "foo();\n}"), (Pieces{"foo", "();\n", "}"}));
  // U+0085 and U+00A0 are whitespace for the reference.
  EXPECT_EQ(Split("qwen2", "a\u0085\u0085b"), (Pieces{"a", "\u0085", "\u0085b"}));
  EXPECT_EQ(Split("qwen2", "你好世界"), (Pieces{"你好世界"}));
}

TEST(PreTokenizer, Llama3GroupsDigitsByThree) {
  EXPECT_EQ(Split("llama-bpe", "1234567"), (Pieces{"123", "456", "7"}));
  EXPECT_EQ(Split("llama3", "we'LL"), (Pieces{"we", "'LL"}));
}

TEST(PreTokenizer, OthersCompile) {
  for (const char* pre : {"default", "starcoder", "deepseek-coder", "dbrx", "stablelm2"}) {
    EXPECT_TRUE(PreTokenizer::Create(pre).ok()) << pre;
  }
  EXPECT_EQ(Split("deepseek-coder", "ab\n你好12"), (Pieces{"ab", "\n", "你好", "1", "2"}));
}

TEST(PreTokenizer, UnknownNameFails) {
  auto p = PreTokenizer::Create("nonesuch");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(p.status().message().find("\"nonesuch\""), std::string::npos);
  EXPECT_NE(p.status().message().find("qwen2"), std::string::npos);
}

TEST(PreTokenizer, LongWhitespaceRun) {
  const std::string text = "x" + std::string(200000, ' ') + "y";
  const Pieces pieces = Split("qwen2", text);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[1].size(), 199999u);
  EXPECT_EQ(pieces[2], " y");
}

// ---------------------------------------------------------------------------

TEST(Bpe, MergesByRank) {
  Vocab v;
  auto t = MakeTokenizer({}, &v);
  ASSERT_TRUE(t);
  EXPECT_EQ(Texts(*t, t->Encode("hello hello", false, true)), (Pieces{"hello", " hello"}));
  // "a b" (rank 6) beats "b c" (rank 7).
  EXPECT_EQ(Texts(*t, t->Encode("abc", false, true)), (Pieces{"ab", "c"}));
  VocabSpec swapped;
  swapped.merges = {"b c", "a b"};
  Vocab v2;
  auto t2 = MakeTokenizer(swapped, &v2);
  ASSERT_TRUE(t2);
  EXPECT_EQ(Texts(*t2, t2->Encode("abc", false, true)), (Pieces{"a", "bc"}));
  // No merge applies: one token per byte.
  EXPECT_EQ(t->Encode("zq", false, true).size(), 2u);
  EXPECT_TRUE(t->Encode("", false, true).empty());
}

TEST(Bpe, AddBos) {
  Vocab v;
  auto t = MakeTokenizer({}, &v);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->bos(), 0);
  EXPECT_FALSE(t->add_bos());
  const auto ids = t->Encode("he", true, true);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], 0);
  EXPECT_EQ(t->Encode("", true, true), std::vector<TokenId>{0});
}

TEST(Bpe, SpecialTokens) {
  Vocab v;
  auto t = MakeTokenizer({}, &v);
  ASSERT_TRUE(t);
  const TokenId im_start = t->Find("<|im_start|>");
  const TokenId tool = t->Find("<tool>");
  ASSERT_EQ(im_start, 1);
  ASSERT_EQ(tool, 3);
  EXPECT_EQ(t->Find("no such token"), -1);

  // CONTROL tokens only with parse_special.
  auto ids = t->Encode("<|im_start|>hello", false, true);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], im_start);
  ids = t->Encode("<|im_start|>hello", false, false);
  EXPECT_GT(ids.size(), 2u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), im_start), 0);
  EXPECT_EQ(t->Decode(ids), "<|im_start|>hello");

  // USER_DEFINED tokens always.
  for (bool parse_special : {true, false}) {
    ids = t->Encode("he<tool>he", false, parse_special);
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_EQ(ids[1], tool);
  }

  // Longest text first: "<x>y" is cut out before "<x>".
  ids = t->Encode("<x>y<x>", false, true);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], t->Find("<x>y"));
  EXPECT_EQ(ids[1], t->Find("<x>"));

  // Adjacent and repeated.
  ids = t->Encode("<|im_end|><|im_end|>", false, true);
  EXPECT_EQ(ids, (std::vector<TokenId>{2, 2}));
  EXPECT_EQ(t->TokenBytes(2), "<|im_end|>");
  EXPECT_TRUE(t->IsSpecial(2));
  EXPECT_FALSE(t->IsSpecial(t->Find("he")));
  EXPECT_EQ(t->token_type(tool), TokenType::kUserDefined);
}

TEST(Bpe, EndOfGeneration) {
  Vocab v;
  auto t = MakeTokenizer({}, &v);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->eos(), 2);
  EXPECT_TRUE(t->IsEndOfGeneration(0));  // <|endoftext|>, by its text
  EXPECT_TRUE(t->IsEndOfGeneration(2));  // eos (also <|im_end|>)
  EXPECT_FALSE(t->IsEndOfGeneration(1));
  EXPECT_FALSE(t->IsEndOfGeneration(-1));
  EXPECT_FALSE(t->IsEndOfGeneration(1 << 20));
}

TEST(Bpe, DecodeRoundTrips) {
  Vocab v;
  auto t = MakeTokenizer({}, &v);
  ASSERT_TRUE(t);
  for (const char* s : {"hello hello", "  leading", "tabs\tand\nnewlines\r\n", "你好，世界",
                        "👨\u200d👩\u200d👧 🇫🇷", "e\u0301", "12 + 34 = 46", "it's 'quoted'"}) {
    EXPECT_EQ(t->Decode(t->Encode(s, false, true)), s) << s;
  }
  EXPECT_EQ(t->TokenBytes(t->Find("Ġhello")), " hello");
  EXPECT_EQ(t->TokenText(t->Find("Ġhello")), "Ġhello");
  EXPECT_EQ(t->TokenBytes(-5), "");
}

TEST(Bpe, InvalidUtf8BecomesReplacementCharacter) {
  Vocab v;
  auto t = MakeTokenizer({}, &v);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->Decode(t->Encode("a\xFF" "b", false, true)), "a\xEF\xBF\xBD" "b");
}

TEST(Bpe, ConcurrentEncodeIsConsistent) {
  Vocab v;
  auto t = MakeTokenizer({}, &v);
  ASSERT_TRUE(t);
  const std::string text = "hello <|im_start|> 123 你好 hello\n\n  x";
  const auto want = t->Encode(text, false, true);
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (t->Encode(text, false, true) != want) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

// ---------------------------------------------------------------------------

TEST(StreamDecoder, NeverSplitsACharacter) {
  Vocab v;
  auto t = MakeTokenizer({}, &v);
  ASSERT_TRUE(t);
  const std::string text = "a你好🙂👨\u200d👩\u200d👧é!";
  const auto ids = t->Encode(text, false, true);
  StreamDecoder d(*t);
  std::string all;
  for (TokenId id : ids) {
    const std::string piece = d.Push(id);
    // Every piece is well-formed UTF-8 on its own.
    for (size_t i = 0; i < piece.size();) {
      const int n = Utf8SequenceLength(std::string_view(piece).substr(i));
      ASSERT_GT(n, 0) << "split character in " << piece;
      i += n;
    }
    all += piece;
  }
  all += d.Flush();
  EXPECT_EQ(all, text);
}

TEST(StreamDecoder, HoldsBackThenCompletes) {
  Vocab v;
  auto t = MakeTokenizer({}, &v);
  ASSERT_TRUE(t);
  const auto ids = t->Encode("你", false, true);  // three byte tokens
  ASSERT_EQ(ids.size(), 3u);
  StreamDecoder d(*t);
  EXPECT_EQ(d.Push(ids[0]), "");
  EXPECT_EQ(d.Push(ids[1]), "");
  EXPECT_EQ(d.Push(ids[2]), "你");
  EXPECT_EQ(d.Flush(), "");
}

TEST(StreamDecoder, InvalidAndDanglingBytesBecomeReplacement) {
  Vocab v;
  auto t = MakeTokenizer({}, &v);
  ASSERT_TRUE(t);
  const auto byte_id = [&](uint8_t b) { return t->Find(ByteChar(b)); };
  StreamDecoder d(*t);
  EXPECT_EQ(d.Push(byte_id(0xFF)), "\xEF\xBF\xBD");  // can never start a character
  EXPECT_EQ(d.Push(byte_id('a')), "a");
  EXPECT_EQ(d.Push(byte_id(0xF0)), "");
  EXPECT_EQ(d.Push(byte_id(0x9F)), "");
  // A non-continuation byte ends the sequence early: U+FFFD, then the byte.
  EXPECT_EQ(d.Push(byte_id('b')), "\xEF\xBF\xBD\xEF\xBF\xBD" "b");
  EXPECT_EQ(d.Push(byte_id(0xE4)), "");
  EXPECT_EQ(d.Flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(d.Flush(), "");
}

// ---------------------------------------------------------------------------

TEST(Errors, MissingModelKey) {
  VocabSpec s;
  s.model = "";
  const Status st = LoadStatus(s);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("tokenizer.ggml.model"), std::string::npos) << st.ToString();
}

TEST(Errors, UnsupportedModel) {
  VocabSpec s;
  s.model = "llama";
  const Status st = LoadStatus(s);
  EXPECT_EQ(st.code(), StatusCode::kUnimplemented);
  EXPECT_NE(st.message().find("tokenizer.ggml.model = \"llama\""), std::string::npos)
      << st.ToString();
}

TEST(Errors, UnsupportedPre) {
  VocabSpec s;
  s.pre = "tekken";
  const Status st = LoadStatus(s);
  EXPECT_EQ(st.code(), StatusCode::kUnimplemented);
  EXPECT_NE(st.message().find("tokenizer.ggml.pre = \"tekken\""), std::string::npos)
      << st.ToString();
}

TEST(Errors, MissingPreMeansDefault) {
  VocabSpec s;
  s.pre = "";
  EXPECT_TRUE(LoadStatus(s).ok());
}

TEST(Errors, TypeCountMismatch) {
  VocabSpec s;
  s.type_count_delta = -1;
  const Status st = LoadStatus(s);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("tokenizer.ggml.token_type has"), std::string::npos)
      << st.ToString();
  s.type_count_delta = 0;
  s.write_types = false;  // optional
  EXPECT_TRUE(LoadStatus(s).ok());
}

TEST(Errors, BadTokenTypeValue) {
  VocabSpec s;
  s.special_types[0] = 9;
  const Status st = LoadStatus(s);
  EXPECT_NE(st.message().find("tokenizer.ggml.token_type[0] = 9"), std::string::npos)
      << st.ToString();
}

TEST(Errors, MergeNamesUnknownToken) {
  Vocab v = BuildVocab({});
  // Rebuild the file with a merge whose right side is not a token.
  gguf::GgufWriter w;
  std::vector<std::string> tokens;
  const gguf::Value* arr = v.file->Find("tokenizer.ggml.tokens");
  for (const auto& e : arr->array) tokens.emplace_back(e.s);
  w.AddString("tokenizer.ggml.model", "gpt2");
  w.AddStringArray("tokenizer.ggml.tokens", tokens);
  w.AddStringArray("tokenizer.ggml.merges", {"h e", "h nosuch"});
  const auto bytes = w.Serialize();
  auto f = gguf::GgufFile::Parse(bytes.data(), bytes.size(), "bad.gguf");
  ASSERT_TRUE(f.ok());
  const Status st = Tokenizer::FromGguf(**f).status();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("tokenizer.ggml.merges[1]"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("\"nosuch\""), std::string::npos) << st.ToString();
}

TEST(Errors, MalformedKeys) {
  {
    gguf::GgufWriter w;
    w.AddString("tokenizer.ggml.model", "gpt2");
    w.AddI32Array("tokenizer.ggml.tokens", {1, 2, 3});
    const auto bytes = w.Serialize();
    auto f = gguf::GgufFile::Parse(bytes.data(), bytes.size(), "bad.gguf");
    ASSERT_TRUE(f.ok());
    const Status st = Tokenizer::FromGguf(**f).status();
    EXPECT_NE(st.message().find("tokenizer.ggml.tokens must be an array of strings"),
              std::string::npos)
        << st.ToString();
  }
  {
    gguf::GgufWriter w;
    w.AddString("tokenizer.ggml.model", "gpt2");
    w.AddStringArray("tokenizer.ggml.tokens", {"a", "b"});
    const auto bytes = w.Serialize();
    auto f = gguf::GgufFile::Parse(bytes.data(), bytes.size(), "bad.gguf");
    ASSERT_TRUE(f.ok());
    const Status st = Tokenizer::FromGguf(**f).status();
    EXPECT_NE(st.message().find("tokenizer.ggml.merges"), std::string::npos) << st.ToString();
  }
  {
    gguf::GgufWriter w;
    w.AddU32("tokenizer.ggml.model", 2);
    const auto bytes = w.Serialize();
    auto f = gguf::GgufFile::Parse(bytes.data(), bytes.size(), "bad.gguf");
    ASSERT_TRUE(f.ok());
    const Status st = Tokenizer::FromGguf(**f).status();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("tokenizer.ggml.model"), std::string::npos) << st.ToString();
  }
}

TEST(Errors, SpecialIdOutOfRange) {
  VocabSpec s;
  s.eos = 1 << 20;
  const Status st = LoadStatus(s);
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange);
  EXPECT_NE(st.message().find("tokenizer.ggml.eos_token_id"), std::string::npos)
      << st.ToString();
}

// ---------------------------------------------------------------------------
// The real models, when present (scripts/fetch-models).

std::string ModelPath(const char* name) {
  if (const char* glint_home = std::getenv("GLINT_HOME"); glint_home && *glint_home) {
    return std::string(glint_home) + "/models/" + name;
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/glint/models/" + name;
}

struct RealModel {
  std::unique_ptr<gguf::GgufFile> file;
  std::unique_ptr<Tokenizer> tok;
  double load_ms = 0;
};

RealModel LoadReal(const char* name) {
  RealModel m;
  const std::string path = ModelPath(name);
  if (!std::filesystem::exists(path)) return m;
  auto f = gguf::GgufFile::Open(path);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  if (!f.ok()) return m;
  m.file = std::move(f).value();
  const auto t0 = std::chrono::steady_clock::now();
  auto t = Tokenizer::FromGguf(*m.file);
  m.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (t.ok()) m.tok = std::move(t).value();
  return m;
}

constexpr const char* kProbe = "Hello world! It's 12345 <|im_start|>user\n  def foo():\n\treturn 'x'  \n\n";

TEST(RealModels, Qwen25Coder) {
  RealModel m = LoadReal("Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf");
  if (!m.tok) GTEST_SKIP() << "model not present";
  const Tokenizer& t = *m.tok;
  std::printf("Qwen2.5-Coder tokenizer load: %.1f ms\n", m.load_ms);
  EXPECT_EQ(t.n_vocab(), 151936);
  EXPECT_EQ(t.eos(), 151645);
  EXPECT_EQ(t.bos(), 151643);
  EXPECT_FALSE(t.add_bos());
  // From llama.cpp (llama-cpp-python 0.3.36) on the same file.
  EXPECT_EQ(t.Encode(kProbe, false, true),
            (std::vector<TokenId>{9707, 1879, 0, 1084, 594, 220, 16, 17, 18, 19, 20, 220, 151644,
                                  872, 198, 220, 707, 15229, 3932, 853, 364, 87, 6, 18611}));
  EXPECT_EQ(t.Encode("<s></s><unk><pad>", false, true),
            (std::vector<TokenId>{44047, 29, 128247, 128243, 1784, 13242, 29}));
  EXPECT_EQ(t.Find("<|fim_prefix|>"), 151659);
  std::vector<TokenId> eog;
  for (TokenId id = 0; id < t.n_vocab(); ++id) {
    if (t.IsEndOfGeneration(id)) eog.push_back(id);
  }
  EXPECT_EQ(eog, (std::vector<TokenId>{128247, 151643, 151645, 151662, 151663, 151664}));
  EXPECT_EQ(t.Decode(t.Encode(kProbe, false, true)), kProbe);
}

TEST(RealModels, SmolLm2) {
  RealModel m = LoadReal("SmolLM2-135M-Instruct.Q4_1.gguf");
  if (!m.tok) GTEST_SKIP() << "model not present";
  const Tokenizer& t = *m.tok;
  std::printf("SmolLM2 tokenizer load: %.1f ms\n", m.load_ms);
  EXPECT_EQ(t.n_vocab(), 49152);
  EXPECT_EQ(t.Encode(kProbe, false, true),
            (std::vector<TokenId>{19556, 905, 17, 657, 506, 216, 33, 34, 35, 36, 37, 216, 1, 4093,
                                  3805, 753, 29856, 3734, 198, 197, 5406, 637, 104, 23, 256,
                                  1116}));
  std::vector<TokenId> eog;
  for (TokenId id = 0; id < t.n_vocab(); ++id) {
    if (t.IsEndOfGeneration(id)) eog.push_back(id);
  }
  EXPECT_EQ(eog, (std::vector<TokenId>{0, 2, 4}));
}

}  // namespace
}  // namespace glint::tokenizer

namespace glint::tokenizer {
namespace {

// Replays the tokenizer fuzz corpus (tests/fuzz/corpus/tokenizer): every
// input must encode to valid ids; inputs must decode back to themselves,
// except those named invalid* (not UTF-8) or unrepresentable* (bytes the
// vocabulary has no token for, dropped as the reference drops them).
TEST(RealModels, FuzzCorpusRoundTrips) {
  RealModel m = LoadReal("SmolLM2-135M-Instruct.Q4_1.gguf");
  if (!m.tok) GTEST_SKIP() << "model not present";
  const std::filesystem::path dir =
      std::filesystem::path(GLINT_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / "tokenizer";
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (bool special : {false, true}) {
      auto ids = m.tok->Encode(text, false, special);
      for (auto id : ids) EXPECT_TRUE(id >= 0 && id < m.tok->n_vocab());
      const std::string name = entry.path().filename().string();
      if (name.rfind("invalid", 0) != 0 && name.rfind("unrepresentable", 0) != 0) {
        EXPECT_EQ(m.tok->Decode(ids), text) << entry.path();
      }
    }
    ++n;
  }
  EXPECT_GE(n, 8);
}

}  // namespace
}  // namespace glint::tokenizer
